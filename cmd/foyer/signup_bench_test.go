package main

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/provider/password"
)

// signUpOnce drives one whole sign-up, flow start to account, through the
// pages: authorize (prompt=create), email, code, profile, and back to the
// app with a code. It returns an error message instead of failing, for
// b.RunParallel.
func (e *testEnv) signUpOnce(c *client, n int64) string {
	b := e.browser()
	p := b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "create")))
	addr := "bench-" + suffix() + "-" + itoa(n) + "@example.org"
	p = b.submit(p, map[string]string{"email": addr})
	code := e.lastCode(addr)
	if code == "" {
		return "no code for " + addr + ": " + p.body
	}
	p = b.submit(p, map[string]string{"code": code})
	p = b.submit(p, map[string]string{"displayName": "Bench", "givenName": "Ben", "surname": "Ch",
		"password": "a long and unusual passphrase " + suffix()})
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		return "final page " + itoa(int64(p.status)) + ": " + p.body
	}
	if !strings.Contains(p.header.Get("Location"), "code=") {
		return "no code in " + p.header.Get("Location")
	}
	return ""
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// BenchmarkSignUp measures whole sign-ups per second (each ends with an
// account and an authorization code for the app), and in the same run the
// argon2id hash every sign-up must make, so the report can give its share.
//
//	go test ./cmd/foyer -run '^$' -bench 'SignUp|Argon2' -benchtime 200x
func BenchmarkSignUp(b *testing.B) {
	env := startEnv(b, func(c *Config) { c.maxStartsPerIP = 1 << 40 })
	c := env.rp(env.a, true, oidc.ScopeOpenID)
	var n atomic.Int64
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if msg := env.signUpOnce(c, n.Add(1)); msg != "" {
				b.Fatal(msg)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if msg := env.signUpOnce(c, n.Add(1)); msg != "" {
					b.Error(msg)
					return
				}
			}
		})
	})
}

// BenchmarkArgon2 is the floor of a sign-up: one argon2id hash at Foyer's
// parameters (m=19456 KiB, t=2, p=1), serial and with every core busy.
func BenchmarkArgon2(b *testing.B) {
	h, err := password.New(password.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.Hash(ctx, "a long and unusual passphrase"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := h.Hash(ctx, "a long and unusual passphrase"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
