package keys

import (
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The oidcop adapter hands these to zitadel as they are.
var (
	_ op.SigningKey = SigningKey{}
	_ oidc.KeySet   = (*KeySet)(nil)
)
