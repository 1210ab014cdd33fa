package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/storage"
)

// The two signature algorithms every tenant has a key for. They are untyped
// constants, so they serve both as strings and as jose.SignatureAlgorithm.
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit RSA key; the
	// default for ID tokens (OIDC's default).
	RS256 = "RS256"
	// ES256 is ECDSA over P-256 with SHA-256; the default for access tokens.
	ES256 = "ES256"
)

// rsaBits is the size of generated RSA keys.
const rsaBits = 2048

// kidBytes is the number of random bytes in a key ID (128 bits).
const kidBytes = 16

// algorithms lists the algorithms every tenant has a key for, in the order
// keys are published.
var algorithms = [...]string{RS256, ES256}

// ErrUnsupportedAlgorithm reports an algorithm other than RS256 and ES256.
var ErrUnsupportedAlgorithm = errors.New("keys: unsupported signing algorithm (want RS256 or ES256)")

func supported(alg string) bool { return alg == RS256 || alg == ES256 }

// SigningKey is a tenant's current private key for one algorithm, decrypted.
// Values are shared by every caller that asks for the same tenant and kid,
// so they are read-only. It satisfies zitadel/oidc's op.SigningKey.
type SigningKey struct {
	kid string
	alg jose.SignatureAlgorithm
	// key is what go-jose signs with and signer the same key as a
	// crypto.Signer: both the *rsa.PrivateKey or *ecdsa.PrivateKey in the
	// default build; for RS256 in the OpenSSL build, a jose.OpaqueSigner and
	// a crypto.Signer over a key held by libcrypto (backend_openssl.go).
	key    any
	signer crypto.Signer
}

// ID returns the key ID, the "kid" of the JWS header.
func (k SigningKey) ID() string { return k.kid }

// SignatureAlgorithm returns RS256 or ES256.
func (k SigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }

// Key returns the private key as go-jose's jose.SigningKey expects it: an
// *rsa.PrivateKey or an *ecdsa.PrivateKey, or, for RS256 in the OpenSSL
// build, a jose.OpaqueSigner that signs through libcrypto.
func (k SigningKey) Key() any { return k.key }

// Signer returns the private key as a crypto.Signer (through libcrypto for
// RS256 in the OpenSSL build); its Public method returns an *rsa.PublicKey
// or an *ecdsa.PublicKey in every build.
func (k SigningKey) Signer() crypto.Signer { return k.signer }

// NewSigner returns a go-jose signer that writes the kid and alg of this key
// into the protected header; opts may be nil or set the typ, such as
// "at+jwt" for access tokens.
func (k SigningKey) NewSigner(opts *jose.SignerOptions) (jose.Signer, error) {
	if k.signer == nil {
		return nil, errors.New("keys: zero SigningKey")
	}
	return jose.NewSigner(jose.SigningKey{
		Algorithm: k.alg,
		Key:       jose.JSONWebKey{Key: k.key, KeyID: k.kid, Algorithm: string(k.alg)},
	}, opts)
}

// newKID returns a random 128-bit key ID, base64url without padding.
func newKID() string {
	b := make([]byte, kidBytes)
	rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// generate returns a new private key for alg from crypto/rand.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// newStoredKey generates a key for alg and returns it as the storage entity:
// the public JWK and the PKCS#8 private key sealed under aead. Status and
// CreatedAt are left to the caller, who sets them inside the CAS update.
func (m *Manager) newStoredKey(tenantID, alg string) (storage.SigningKey, error) {
	priv, err := generate(alg)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	kid := newKID()
	pub, err := jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: encode private key: %w", err)
	}
	sealed := seal(m.aead, tenantID, kid, alg, pub, der)
	clear(der)
	return storage.SigningKey{
		ID:        kid,
		TenantID:  tenantID,
		Algorithm: alg,
		PublicJWK: pub,
		Sealed:    sealed,
	}, nil
}

// parsePublic decodes and checks a stored public JWK: public, for signing,
// with the entity's kid and alg, and of the key type and size alg needs.
func parsePublic(k storage.SigningKey) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("decode public JWK: %w", err)
	}
	if !jwk.Valid() || !jwk.IsPublic() || jwk.KeyID != k.ID || jwk.Algorithm != k.Algorithm || jwk.Use != "sig" {
		return jose.JSONWebKey{}, errors.New("public JWK does not match its key entry")
	}
	if err := checkKeyType(k.Algorithm, jwk.Key); err != nil {
		return jose.JSONWebKey{}, err
	}
	return jwk, nil
}

// checkKeyType reports whether key (public or private) is of the type alg
// signs with: RSA of at least 2048 bits for RS256, P-256 for ES256.
func checkKeyType(alg string, key any) error {
	switch alg {
	case RS256:
		switch k := key.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() >= rsaBits {
				return nil
			}
		case *rsa.PrivateKey:
			if k.N.BitLen() >= rsaBits {
				return nil
			}
		}
	case ES256:
		switch k := key.(type) {
		case *ecdsa.PublicKey:
			if k.Curve == elliptic.P256() {
				return nil
			}
		case *ecdsa.PrivateKey:
			if k.Curve == elliptic.P256() {
				return nil
			}
		}
	}
	return fmt.Errorf("key of type %T does not fit %s", key, alg)
}

// decrypt unseals and parses the private key of a current or next key and
// checks that it is the private half of the published public key.
func (m *Manager) decrypt(tenantID string, k storage.SigningKey, pub jose.JSONWebKey) (SigningKey, error) {
	der, err := unseal(m.aead, tenantID, k.ID, k.Algorithm, k.PublicJWK, k.Sealed)
	if err != nil {
		return SigningKey{}, fmt.Errorf("tenant %s key %s: %w", tenantID, k.ID, err)
	}
	defer clear(der)
	if len(der) == 0 {
		return SigningKey{}, fmt.Errorf("keys: tenant %s key %s has no private key", tenantID, k.ID)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return SigningKey{}, fmt.Errorf("keys: tenant %s key %s: parse PKCS#8: %w", tenantID, k.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return SigningKey{}, fmt.Errorf("keys: tenant %s key %s: %T is not a signer", tenantID, k.ID, priv)
	}
	if err := checkKeyType(k.Algorithm, signer); err != nil {
		return SigningKey{}, fmt.Errorf("keys: tenant %s key %s: %w", tenantID, k.ID, err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := signer.Public().(equaler); !ok || !e.Equal(pub.Key) {
		return SigningKey{}, fmt.Errorf("keys: tenant %s key %s: private key does not match the public key", tenantID, k.ID)
	}
	key, bsigner, err := backendKey(k.Algorithm, signer)
	if err != nil {
		return SigningKey{}, fmt.Errorf("keys: tenant %s key %s: %w", tenantID, k.ID, err)
	}
	return SigningKey{kid: k.ID, alg: jose.SignatureAlgorithm(k.Algorithm), key: key, signer: bsigner}, nil
}
