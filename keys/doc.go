// Package keys owns the tenants' token-signing keys: it generates them,
// keeps their private parts sealed at rest, rotates them safely across any
// number of instances, publishes the JWKS, and verifies tokens against it.
//
// # Keys
//
// Every tenant has one current RS256 key (RSA 2048, for ID tokens) and one
// current ES256 key (P-256, for access tokens). Key IDs are 128 random bits
// from crypto/rand, base64url. All randomness comes from crypto/rand.
//
// # Sealing
//
// A private key is stored only as PKCS#8 sealed with AES-256-GCM under the
// 32-byte key-encryption key (KEK, Config.KEK; ParseKEK reads it from the
// environment or a file, GenerateKEK makes one). The nonce is random and
// prepended by the standard library (cipher.NewGCMWithRandomNonce). The
// additional authenticated data is, length-prefixed,
//
//	"foyer/keys/signing-key/v1", tenant ID, kid, alg, SHA-256(public JWK)
//
// so a sealed blob opens only as the key of the tenant and kid it was made
// for, and the public key stored next to it cannot be replaced. Every key a
// Manager reads is authenticated this way before it is published or used to
// verify, so whoever can write the store but lacks the KEK can delete keys
// but not add one that verifies; such keys are logged, left out, and
// deleted by the next update. A demoted key keeps a seal of the empty
// plaintext: its private key is erased and its public key still
// authenticated. An update of a set in which no key opens stops with
// ErrUnseal, so an instance started with the wrong KEK fails loudly instead
// of replacing keys the other instances use. (It cannot tell for a tenant
// without keys: the KEK must be the same everywhere.)
//
// # Lifecycle
//
// A key is "next" (published, not signing), then "current" (signing), then
// "previous" (published until NotAfter, not signing), then deleted.
// EnsureKeys creates the current keys of a new tenant (Signer does it on
// first use). Rotate moves one phase per call: without a next key it
// publishes one; with a next key published at least PublishDelay ago it
// promotes it and demotes the current key, whose NotAfter is now +
// Retention. Retention is TokenMaxLifetime + KeySetTTL + ClockSkew: tokens
// live TokenMaxLifetime, other instances may go on signing with the demoted
// key for KeySetTTL, and verifiers may accept tokens ClockSkew past exp.
// Previous keys past NotAfter disappear from the JWKS at once and from the
// store at the next rotation. PublishDelay defaults to JWKSMaxAge +
// KeySetTTL, so that every relying party's cached JWKS and every instance's
// cached key set contain the new key before it signs.
//
// Each step is one compare-and-swap update of the tenant's set
// (storage.Keys.UpdateSigningKeys) that decides from the set it is given,
// with keys generated beforehand: instances racing on a new tenant create
// exactly one key per algorithm, and concurrent rotations perform each phase
// once without losing keys.
//
// # Rotating, for operators
//
//	foyer keys rotate --tenant T   # phase 1: publish next keys
//	# wait at least PublishDelay (JWKSMaxAge + KeySetTTL, 10m5s by default)
//	foyer keys rotate --tenant T   # phase 2: promote them, demote the old ones
//
// Running it too early is harmless: it reports ErrRotationPending and when
// to run it again. A third run publishes the next keys of the following
// rotation, and so on. When a key must go at once (a suspected leak),
// RotateNow (a flag of the command) does both phases in one step; relying
// parties that cached the JWKS then reject new tokens until they fetch it
// again, which most do on an unknown kid.
//
// # Caches and their bounds
//
// A Manager keeps each tenant's key set in memory for KeySetTTL (5 s by
// default) and reads it again on the first use after that, one read per
// tenant per instance however many requests wait for it. Signer therefore
// sees a rotation made by another instance within KeySetTTL; PublicKeys,
// JWKS and KeySet likewise. A KeySet that meets an unknown kid reads the set
// again at once, but at most once a second per tenant. Decrypted private
// keys are cached with the set, by tenant and kid, for as long as they stay
// current: RSA decryption and parsing cost far more than a signature, so a
// key is decrypted once per instance and rotation. At most MaxCachedTenants
// tenants are kept (10000 by default); beyond that an arbitrary tenant is
// dropped and read again when next used. The JWKS bytes are computed once
// per refresh.
//
// # Signing backends
//
// The default build signs with the standard library (pure Go, no cgo). The
// build with -tags openssl (cgo) makes RS256 signatures with OpenSSL's
// libcrypto through github.com/golang-fips/openssl/v2, loaded with dlopen
// (libcrypto.so.3, else libcrypto.so.1.1, or the file LibcryptoEnv names):
// when a key is decrypted, backendKey converts an RSA key to the binding's
// form once, and the SigningKey hands go-jose an opaque signer over it, so
// callers see no difference and RS256 tokens are the same bytes in both
// builds. ES256 signing and all verification stay in Go in both builds:
// OpenSSL 3 measured no faster for P-256, and RSA verification, off the hot
// path (access tokens are ES256), gained 4 µs of 30. CryptoBackend
// names the backend; in the OpenSSL build it returns an error when libcrypto
// cannot be loaded, and New fails with it, so such a binary never signs with
// Go's crypto instead. backend_go.go and backend_openssl.go hold the two
// variants; TestCrossBuild checks each against the other.
//
// # Verifying
//
// KeySet verifies JWS against the tenant's published keys (next, current,
// and previous until NotAfter) by kid only. It refuses any alg other than
// RS256 and ES256 (so "none" and HS256 keyed with a public key), an alg
// other than that of the kid's key, and the jku, jwk, x5u, x5c, x5t,
// x5t#S256, crit and b64 header parameters: a token never brings its own
// key.
package keys
