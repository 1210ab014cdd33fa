package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// KEKSize is the length in bytes of a key-encryption key (AES-256).
const KEKSize = 32

// sealVersion is the first byte of every sealed blob. A future format (for
// instance one naming the KEK it was sealed under, for KEK rotation) gets a
// new version; Open refuses versions it does not know.
const sealVersion byte = 1

// aadLabel separates Foyer's signing-key AAD from any other use of the KEK.
const aadLabel = "foyer/keys/signing-key/v1"

// ErrInvalidKEK reports a key-encryption key that is not 32 bytes, or not
// base64 or base64url of 32 bytes.
var ErrInvalidKEK = errors.New("keys: key-encryption key must be 32 bytes, base64 or base64url encoded")

// ErrUnseal reports that a sealed private key could not be opened: the KEK is
// not the one it was sealed under, or the blob, its tenant, kid, algorithm or
// public key was altered.
var ErrUnseal = errors.New("keys: cannot unseal signing key (wrong key-encryption key or tampered key)")

// ParseKEK decodes a key-encryption key given as standard base64 or base64url,
// padded or not, surrounded by optional white space (a trailing newline from
// a file is fine). It returns ErrInvalidKEK unless the result is exactly 32
// bytes. The error never contains s.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.DecodeString(s)
		if err == nil && len(b) == KEKSize {
			return b, nil
		}
	}
	return nil, ErrInvalidKEK
}

// GenerateKEK returns a new random key-encryption key from crypto/rand.
// Encode it with base64.StdEncoding (or RawURLEncoding) to store it in the
// environment or a file; ParseKEK reads both.
func GenerateKEK() []byte {
	k := make([]byte, KEKSize)
	rand.Read(k) // never fails (crypto/rand crashes the program instead)
	return k
}

// newAEAD returns AES-256-GCM under kek with random 96-bit nonces, prepended
// to the ciphertext by the standard library (cipher.NewGCMWithRandomNonce).
// A KEK seals a handful of keys per tenant per rotation, far below the 2^32
// messages that random nonces allow per key.
func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KEKSize {
		return nil, ErrInvalidKEK
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// keyAAD is the additional authenticated data of one key's sealed blob: the
// tenant ID, the kid, the algorithm and the SHA-256 of the public JWK, each
// length-prefixed so that no two different tuples encode alike. A blob
// therefore opens only for the tenant and kid it was sealed for, and the
// stored public key cannot be swapped without the KEK.
func keyAAD(tenantID, kid, alg string, publicJWK []byte) []byte {
	sum := sha256.Sum256(publicJWK)
	b := make([]byte, 0, len(aadLabel)+len(tenantID)+len(kid)+len(alg)+len(sum)+5*binary.MaxVarintLen64)
	for _, s := range []string{aadLabel, tenantID, kid, alg} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(sum)))
	return append(b, sum[:]...)
}

// seal encrypts plaintext (a PKCS#8 private key, or nothing for a key that
// no longer signs) for the given tenant, kid, algorithm and public JWK.
func seal(aead cipher.AEAD, tenantID, kid, alg string, publicJWK, plaintext []byte) []byte {
	out := make([]byte, 1, 1+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	return aead.Seal(out, nil, plaintext, keyAAD(tenantID, kid, alg, publicJWK))
}

// unseal reverses seal. It returns ErrUnseal if the version is unknown, the
// blob was altered, or any part of the AAD differs from sealing time.
func unseal(aead cipher.AEAD, tenantID, kid, alg string, publicJWK, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	pt, err := aead.Open(nil, nil, sealed[1:], keyAAD(tenantID, kid, alg, publicJWK))
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}
