package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestCryptoBackend(t *testing.T) {
	b, err := CryptoBackend()
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != thisBuild || b.Detail == "" || !strings.HasPrefix(b.String(), thisBuild+": ") {
		t.Fatalf("CryptoBackend() = %+v, want %q", b, thisBuild)
	}
}

// goKey unseals the tenant's current key for alg and parses it with the
// standard library, bypassing the backend.
func goKey(t *testing.T, m *Manager, tenantID, alg string) crypto.Signer {
	t.Helper()
	s := m.cacheFor(tenantID).snap.Load()
	k := s.keys[s.current[alg]].stored
	der, err := unseal(m.aead, tenantID, k.ID, k.Algorithm, k.PublicJWK, k.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return priv.(crypto.Signer)
}

// The backend's signatures are those of the standard library: RSASSA-PKCS1
// v1.5 is deterministic, so an RS256 signature must be the same bytes as
// crypto/rsa's with the same key; PSS and ECDSA signatures are randomised,
// so crypto/rsa and crypto/ecdsa verify them. Signer and Key (go-jose) both
// go through the backend.
func TestBackendMatchesStandardLibrary(t *testing.T) {
	m := newManager(t, newStore(t), newClock())
	rs, es := mustSigner(t, m, tenantA, RS256), mustSigner(t, m, tenantA, ES256)
	digest := sha256.Sum256([]byte(benchClaims))

	goRSA := goKey(t, m, tenantA, RS256).(*rsa.PrivateKey)
	want, err := rsa.SignPKCS1v15(nil, goRSA, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	got, err := rs.Signer().Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("RS256: the backend's PKCS#1 v1.5 signature differs from crypto/rsa's")
	}
	tok := signToken(t, rs, benchClaims)
	wantTok := signToken(t, SigningKey{kid: rs.ID(), alg: RS256, key: goRSA, signer: goRSA}, benchClaims)
	if tok != wantTok {
		t.Fatal("RS256: the backend's JWS differs from go-jose's with crypto/rsa")
	}

	pss, err := rs.Signer().Sign(rand.Reader, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&goRSA.PublicKey, crypto.SHA256, digest[:], pss, nil); err != nil {
		t.Fatalf("PSS signature of the backend: %v", err)
	}
	if _, err := rs.Signer().Sign(nil, digest[:16], crypto.SHA256); err == nil {
		t.Fatal("RS256 signer signed a digest of the wrong length")
	}

	esig, err := es.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(es.Signer().Public().(*ecdsa.PublicKey), digest[:], esig) {
		t.Fatal("ES256 signature of the backend does not verify with crypto/ecdsa")
	}
	// go-jose verifies what go-jose signed through the backend, with the
	// public keys alone.
	for _, sk := range []SigningKey{rs, es} {
		jws, err := jose.ParseSignedCompact(signToken(t, sk, benchClaims), allowedAlgs)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := jws.Verify(sk.Signer().Public())
		if err != nil || string(payload) != benchClaims {
			t.Fatalf("%s: go-jose Verify: %v", sk.SignatureAlgorithm(), err)
		}
	}
	if err := verify(t, m, tenantA, tok); err != nil {
		t.Fatalf("KeySet.Verify: %v", err)
	}
}
