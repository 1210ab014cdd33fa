//go:build openssl

package keys

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"path/filepath"
	"strings"
	"testing"
)

const (
	thisBuild      = "openssl"
	otherBuildTags = ""
)

// In the OpenSSL build an RS256 key is held by libcrypto: neither Key nor
// Signer is Go's *rsa.PrivateKey, so go-jose cannot sign with Go's crypto.
// ES256 keys stay Go keys.
func TestOpenSSLHoldsRSAKeys(t *testing.T) {
	m := newManager(t, newStore(t), newClock())
	rs := mustSigner(t, m, tenantA, RS256)
	if _, ok := rs.Key().(*rsa.PrivateKey); ok {
		t.Fatal("RS256 Key() is a Go *rsa.PrivateKey")
	}
	if _, ok := rs.Signer().(*opensslRSA); !ok {
		t.Fatalf("RS256 Signer() is %T, want *opensslRSA", rs.Signer())
	}
	if _, ok := rs.Signer().Public().(*rsa.PublicKey); !ok {
		t.Fatalf("RS256 public key is %T", rs.Signer().Public())
	}
	if _, ok := mustSigner(t, m, tenantA, ES256).Key().(*ecdsa.PrivateKey); !ok {
		t.Fatal("ES256 Key() is not a Go *ecdsa.PrivateKey")
	}
}

// A libcrypto that cannot be loaded is an error naming it, never a quiet
// fall back to Go's crypto.
func TestLibcryptoMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libcrypto.so.3")
	t.Setenv(LibcryptoEnv, missing)
	b, err := openBackend()
	if err == nil {
		t.Fatalf("openBackend with %s = %v, want an error", missing, b)
	}
	for _, want := range []string{"OpenSSL build", "cannot load libcrypto", missing, LibcryptoEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
