//go:build !openssl

package keys

import (
	"crypto"
	"runtime"
)

// The default build: every signature is made by the standard library, and
// the binary needs no libc (CGO_ENABLED=0).

func openBackend() (Backend, error) {
	return Backend{Name: "go", Detail: "Go standard library crypto (pure Go, " + runtime.Version() + ") for RS256 and ES256"}, nil
}

// backendKey keeps the key as it is: go-jose signs with *rsa.PrivateKey and
// *ecdsa.PrivateKey through the standard library.
func backendKey(_ string, priv crypto.Signer) (any, crypto.Signer, error) {
	return priv, priv, nil
}
