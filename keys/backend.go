package keys

import "sync"

// Backend names the implementation that makes this binary's signatures.
type Backend struct {
	// Name is "go" (the standard library, pure Go) or "openssl" (the build
	// with -tags openssl: RS256 signatures through libcrypto).
	Name string
	// Detail says what runs where, for logs and "foyer version".
	Detail string
}

func (b Backend) String() string { return b.Name + ": " + b.Detail }

// CryptoBackend reports the signing backend of this build, loading it on
// the first call. In the OpenSSL build it returns an error when libcrypto
// cannot be loaded; New then fails with the same error, so a binary built
// for OpenSSL never signs with Go's crypto instead.
func CryptoBackend() (Backend, error) { return loadBackend() }

var loadBackend = sync.OnceValues(openBackend)

// Each build defines, in backend_go.go or backend_openssl.go:
//
//	openBackend() (Backend, error)
//	backendKey(alg string, priv crypto.Signer) (key any, signer crypto.Signer, err error)
//
// backendKey turns a decrypted private key into what a SigningKey holds:
// the key handed to go-jose (Key) and the crypto.Signer (Signer). It runs
// once per key and instance, when the key is decrypted, and its result is
// cached with the key.
