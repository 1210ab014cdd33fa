package oidcop

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/keys"
	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/redisstore"
)

// mintToken returns a real access token and its claims, signed with real
// keys on a real (miniredis) store.
func mintToken(t *testing.T, alg string) (string, bearer.Claims) {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	store := redisstore.New(client, redisstore.Config{})
	km, err := keys.New(store, keys.Config{KEK: keys.GenerateKEK(), TokenMaxLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	urls := tenancy.URLs{Base: "https://login.foyer.example"}
	tokens := bearer.New(bearer.Config{Keys: km, Revocations: store, Issuer: urls.Issuer, Audience: urls.GraphResource()})
	raw, c, err := tokens.Mint(context.Background(), bearer.Grant{
		TenantID: storage.NewID(), GrantID: storage.NewID(), UserID: storage.NewID(),
		ClientID: "app", Scopes: []string{"openid", "User.Read"}, Alg: alg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw, c
}

var reCode = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestTokenCodecEncrypt(t *testing.T) {
	var codec tokenCodec
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run("access token "+alg, func(t *testing.T) {
			raw, c := mintToken(t, alg)
			// zitadel's CreateBearerToken: Encrypt(tokenID + ":" + subject).
			got, err := codec.Encrypt(raw + ":" + c.Subject)
			if err != nil || got != raw {
				t.Fatalf("Encrypt(token:sub) = %q, %v; want the token", got, err)
			}
		})
	}

	t.Run("subject containing colons", func(t *testing.T) {
		// A compact JWS never contains ':', so the token ends at the
		// first one whatever the subject holds.
		raw, _ := mintToken(t, "ES256")
		got, err := codec.Encrypt(raw + ":urn:user:1")
		if err != nil || got != raw {
			t.Fatalf("Encrypt(token:urn:user:1) = %q, %v; want the token", got, err)
		}
	})

	// zitadel's BuildAuthRequestCode: Encrypt(authRequestID). The code is
	// random and says nothing about the ID.
	for _, tc := range []struct{ name, id string }{
		{"auth request ID", storage.NewID()},
		{"ID with a colon", "abc:def"},
		{"ID with one dot and a colon", "a.b:c"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 100 {
				code, err := codec.Encrypt(tc.id)
				if err != nil {
					t.Fatal(err)
				}
				if !reCode.MatchString(code) {
					t.Fatalf("Encrypt(%q) = %q, want 43 base64url characters", tc.id, code)
				}
				if tc.id != "" && strings.Contains(code, tc.id) {
					t.Fatalf("code %q contains the ID", code)
				}
				if seen[code] {
					t.Fatalf("Encrypt(%q) returned %q twice", tc.id, code)
				}
				seen[code] = true
			}
		})
	}
}

func TestTokenCodecDecrypt(t *testing.T) {
	var codec tokenCodec
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run("access token "+alg, func(t *testing.T) {
			raw, c := mintToken(t, alg)
			got, err := codec.Decrypt(raw)
			if want := c.ID + ":" + c.Subject; err != nil || got != want {
				t.Fatalf("Decrypt = %q, %v; want %q", got, err, want)
			}
		})
	}

	jws := func(payload string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	t.Run("any signed-looking JWT (verification is the handler's)", func(t *testing.T) {
		got, err := codec.Decrypt(jws(`{"jti":"g.r","sub":"u"}`))
		if err != nil || got != "g.r:u" {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
	})

	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"opaque token", "2YotnFZFEjr1zCsicMWpAA"},
		{"two parts", "a.b"},
		{"four parts", jws(`{"jti":"g.r","sub":"u"}`) + ".x"},
		{"JWE (five parts)", "a.b.c.d.e"},
		{"payload not base64", "a.!!!.c"},
		{"payload padded", "a." + base64.URLEncoding.EncodeToString([]byte(`{"jti":"g.r","sub":"u"}`)) + ".c"},
		{"payload in standard base64", "a." + base64.RawStdEncoding.EncodeToString([]byte(`{"jti":"g.r","sub":"u?>>"}`)) + ".c"},
		{"payload not JSON", jws("not json")},
		{"payload a JSON array", jws(`[1,2]`)},
		{"no jti", jws(`{"sub":"u"}`)},
		{"no sub", jws(`{"jti":"g.r"}`)},
		{"empty jti", jws(`{"jti":"","sub":"u"}`)},
		{"empty sub", jws(`{"jti":"g.r","sub":""}`)},
		{"jti not a string", jws(`{"jti":1,"sub":"u"}`)},
		{"jti with a colon", jws(`{"jti":"g:r","sub":"u"}`)},
		{"sub with a colon", jws(`{"jti":"g.r","sub":"u:v"}`)},
		{"oversized", jws(`{"jti":"g.r","sub":"u","x":"` + strings.Repeat("a", 8192) + `"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := codec.Decrypt(tc.in)
			if err == nil {
				t.Fatalf("Decrypt(%.60q) = %q, want an error", tc.in, got)
			}
			if !errors.Is(err, errNotAccessToken) || got != "" {
				t.Fatalf("Decrypt = %q, %v; want errNotAccessToken", got, err)
			}
		})
	}
}

func FuzzTokenCodecDecrypt(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJnLnIiLCJzdWIiOiJ1In0.c2ln",
		"a.b.c", "", "..", "a.e30.c",
	} {
		f.Add(s)
	}
	var codec tokenCodec
	f.Fuzz(func(t *testing.T, s string) {
		got, err := codec.Decrypt(s)
		if err != nil {
			if got != "" {
				t.Fatalf("Decrypt(%q) = %q with error %v", s, got, err)
			}
			return
		}
		// What zitadel splits on ':' must come back in exactly two
		// non-empty parts.
		jti, sub, ok := strings.Cut(got, ":")
		if !ok || jti == "" || sub == "" || strings.Contains(sub, ":") {
			t.Fatalf("Decrypt(%q) = %q", s, got)
		}
	})
}
