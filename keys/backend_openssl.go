//go:build openssl

package keys

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"

	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/golang-fips/openssl/v2"
	"github.com/golang-fips/openssl/v2/bbig"
)

// The OpenSSL build (go build -tags openssl, cgo): RS256 signatures are made
// by OpenSSL's libcrypto through github.com/golang-fips/openssl/v2, which
// loads the library with dlopen at start. ES256 signatures and every
// verification stay in Go: measured on the same machine, OpenSSL 3 was no
// faster for P-256 and barely faster for RSA verification, which is off the
// hot path (see README, "The OpenSSL build").

// LibcryptoEnv names the environment variable that chooses the libcrypto
// shared library (a file name for the dynamic loader or a path). Unset, the
// OpenSSL 3 and 1.1 libraries are tried in that order.
const LibcryptoEnv = "FOYER_LIBCRYPTO"

var libcryptoNames = []string{"libcrypto.so.3", "libcrypto.so.1.1"}

func openBackend() (Backend, error) {
	names := libcryptoNames
	if v := os.Getenv(LibcryptoEnv); v != "" {
		names = []string{v}
	}
	var errs []error
	for _, name := range names {
		if ok, _ := openssl.CheckVersion(name); !ok {
			errs = append(errs, fmt.Errorf("%s: not found by the dynamic loader", name))
			continue
		}
		// Init is effective once per process: the first library that
		// loads is the one used.
		if err := openssl.Init(name); err != nil {
			return Backend{}, fmt.Errorf("keys: this is the OpenSSL build of Foyer and libcrypto (%s) failed to initialise: %w", name, err)
		}
		return Backend{
			Name:   "openssl",
			Detail: fmt.Sprintf("%s (%s) via golang-fips/openssl for RS256 signatures; Go standard library crypto for ES256 and verification", openssl.VersionText(), name),
		}, nil
	}
	return Backend{}, fmt.Errorf("keys: this is the OpenSSL build of Foyer and it cannot load libcrypto (%s); "+
		"install OpenSSL 3 (Debian: apt-get install libssl3) or set %s to the library's path, "+
		"or run the default build, which needs no libcrypto", errors.Join(errs...), LibcryptoEnv)
}

// backendKey converts an RS256 key into OpenSSL's form, once per key; the
// Go key is not kept. ES256 keys stay Go keys.
func backendKey(alg string, priv crypto.Signer) (any, crypto.Signer, error) {
	if alg != RS256 {
		return priv, priv, nil
	}
	if _, err := loadBackend(); err != nil {
		return nil, nil, err
	}
	k, ok := priv.(*rsa.PrivateKey)
	if !ok || len(k.Primes) != 2 || k.Precomputed.Dp == nil || k.Precomputed.Dq == nil || k.Precomputed.Qinv == nil {
		return nil, nil, fmt.Errorf("keys: %T is not a two-prime RSA key with precomputed CRT values", priv)
	}
	pre := k.Precomputed
	ossl, err := openssl.NewPrivateKeyRSA(bbig.Enc(k.N), bbig.Enc(big.NewInt(int64(k.E))), bbig.Enc(k.D),
		bbig.Enc(k.Primes[0]), bbig.Enc(k.Primes[1]), bbig.Enc(pre.Dp), bbig.Enc(pre.Dq), bbig.Enc(pre.Qinv))
	if err != nil {
		return nil, nil, fmt.Errorf("keys: RSA key to OpenSSL: %w", err)
	}
	// A copy of the public key, so that no pointer into k keeps Go's
	// private key alive.
	s := &opensslRSA{pub: &rsa.PublicKey{N: new(big.Int).Set(k.N), E: k.E}, priv: ossl}
	// cryptosigner hashes the signing input and hands the digest to s.
	return cryptosigner.Opaque(s), s, nil
}

// opensslRSA is an RSA private key held by libcrypto, as a crypto.Signer.
type opensslRSA struct {
	pub  *rsa.PublicKey
	priv *openssl.PrivateKeyRSA
}

func (k *opensslRSA) Public() crypto.PublicKey { return k.pub }

// Sign signs digest, the hash of the message under opts.HashFunc(), with
// RSASSA-PKCS1-v1_5, or with RSASSA-PSS when opts is an *rsa.PSSOptions,
// as crypto/rsa does. OpenSSL draws its own randomness (PSS salts, RSA
// blinding), so rand is not used.
func (k *opensslRSA) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	if h == 0 || !h.Available() || len(digest) != h.Size() {
		return nil, errors.New("keys: OpenSSL RSA signer needs the digest of an available hash")
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		return openssl.SignRSAPSS(k.priv, h, digest, pss.SaltLength)
	}
	return openssl.SignRSAPKCS1v15(k.priv, h, digest)
}
