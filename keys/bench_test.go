package keys

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// benchClaims is a small ID token's claims.
const benchClaims = `{"iss":"https://id.example.com/0b6f3f0e-0000-4000-8000-00000000000a/v2.0","sub":"8c1f0f7e-5a7b-4c39-9d1b-0f3c3c1c2a11","aud":"6f0c1b1e-2a44-4d0e-8f55-3b1b1f6e0d21","exp":1772370000,"iat":1772366400,"auth_time":1772366390,"nonce":"n-0S6_WzA2Mj","oid":"8c1f0f7e-5a7b-4c39-9d1b-0f3c3c1c2a11","tid":"0b6f3f0e-0000-4000-8000-00000000000a","ver":"2.0"}`

// benchManager returns a Manager on the real clock whose cache is warm for
// tenantA.
func benchManager(b *testing.B) *Manager {
	b.Helper()
	m, err := New(newStore(b), Config{KEK: testKEK, TokenMaxLifetime: time.Hour, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range algorithms {
		mustSigner(b, m, tenantA, alg)
	}
	if _, err := m.JWKS(context.Background(), tenantA); err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkSigner(b *testing.B) {
	ctx := context.Background()
	m := benchManager(b)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.Signer(ctx, tenantA, ES256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.Signer(ctx, tenantA, ES256); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkSign measures what the token endpoint pays per token: Signer on a
// warm cache, a go-jose signer, the signature and the serialisation.
func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	m := benchManager(b)
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				sk, err := m.Signer(ctx, tenantA, alg)
				if err != nil {
					b.Fatal(err)
				}
				s, err := sk.NewSigner((&jose.SignerOptions{}).WithType("JWT"))
				if err != nil {
					b.Fatal(err)
				}
				jws, err := s.Sign([]byte(benchClaims))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.CompactSerialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignature is the signature alone, through the build's backend
// (go test -tags openssl for libcrypto): SigningKey.Signer over a SHA-256
// digest, as go-jose calls it for RS256 in the OpenSSL build. cpu-ns/op is
// the process's CPU time per signature, which a busy machine inflates less
// than the wall time.
func BenchmarkSignature(b *testing.B) {
	m := benchManager(b)
	digest := sha256.Sum256([]byte(benchClaims))
	for _, alg := range algorithms {
		s := mustSigner(b, m, tenantA, alg).Signer()
		b.Run(alg, func(b *testing.B) {
			c0, ok := processCPU()
			for b.Loop() {
				if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			if c1, _ := processCPU(); ok {
				b.ReportMetric(float64((c1-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	m := benchManager(b)
	ks, err := m.KeySet(ctx, tenantA)
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range algorithms {
		tok := signToken(b, mustSigner(b, m, tenantA, alg), benchClaims)
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := ks.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecrypt is what the decrypted-key cache saves: unsealing and
// parsing a private key.
func BenchmarkDecrypt(b *testing.B) {
	m := benchManager(b)
	s := m.cacheFor(tenantA).snap.Load()
	for _, alg := range algorithms {
		p := s.keys[s.current[alg]]
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.decrypt(tenantA, p.stored, p.jwk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJWKS(b *testing.B) {
	ctx := context.Background()
	m := benchManager(b)
	if err := m.Rotate(ctx, tenantA); err != nil { // 4 keys: current and next
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.JWKS(ctx, tenantA); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
		s := m.cacheFor(tenantA).snap.Load()
		now := time.Now()
		for b.Loop() {
			s.marshalJWKS(now)
		}
	})
	b.Run("refresh", func(b *testing.B) { // read, authenticate, parse, marshal
		set, err := m.store.SigningKeys(ctx, tenantA)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for b.Loop() {
			m.build(tenantA, set, now)
		}
	})
}
