package sso_test

import (
	"encoding/base64"
	"math/bits"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/provider/sso"
)

const tenantID = "2f0a4b1c-3d5e-4f60-8a1b-2c3d4e5f6071"

// setCookie returns the one Set-Cookie header of rec, parsed.
func setCookie(t *testing.T, rec *httptest.ResponseRecorder) (string, *http.Cookie) {
	t.Helper()
	hs := rec.Result().Header.Values("Set-Cookie")
	if len(hs) != 1 {
		t.Fatalf("Set-Cookie headers: %q, want one", hs)
	}
	c, err := http.ParseSetCookie(hs[0])
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", hs[0], err)
	}
	return hs[0], c
}

func TestCookieAttributes(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		insecure bool
		wantName string
	}{
		{"secure", false, "__Host-foyer-" + tenantID},
		{"insecure (dev on http://localhost)", true, "foyer-" + tenantID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sso.New(sso.Config{Insecure: tc.insecure})
			if got := c.Name(tenantID); got != tc.wantName {
				t.Fatalf("Name = %q, want %q", got, tc.wantName)
			}
			check := func(t *testing.T, raw string, ck *http.Cookie) {
				t.Helper()
				if ck.Name != tc.wantName || ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
					t.Errorf("%s: want name %s, Path=/, HttpOnly, SameSite=Lax", raw, tc.wantName)
				}
				if ck.Secure == tc.insecure {
					t.Errorf("%s: Secure = %v, want %v", raw, ck.Secure, !tc.insecure)
				}
				// __Host- cookies must have no Domain; none has one here.
				if ck.Domain != "" || strings.Contains(strings.ToLower(raw), "domain=") {
					t.Errorf("%s: has a Domain", raw)
				}
			}

			t.Run("Issue", func(t *testing.T) {
				rec := httptest.NewRecorder()
				hash := c.Issue(rec, tenantID, expires)
				raw, ck := setCookie(t, rec)
				check(t, raw, ck)
				if !ck.Expires.Equal(expires) || ck.MaxAge != 0 {
					t.Errorf("%s: Expires %v, Max-Age %d; want Expires %v", raw, ck.Expires, ck.MaxAge, expires)
				}
				if hash != sso.Hash(ck.Value) {
					t.Errorf("Issue returned %s, want the SHA-256 of the cookie value", hash)
				}
				if len(ck.Value) != 43 {
					t.Errorf("cookie value %q: want 43 characters (256 bits)", ck.Value)
				}

				// The browser sends it back: Read finds the same hash.
				req := httptest.NewRequest(http.MethodGet, "https://login.foyer.example/", nil)
				req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
				if got := c.Read(req, tenantID); got != hash {
					t.Errorf("Read = %q, want %q", got, hash)
				}
				// ...but not for another tenant, nor under the other mode's name.
				if got := c.Read(req, "00000000-0000-4000-8000-000000000000"); got != "" {
					t.Errorf("Read for another tenant = %q", got)
				}
				if got := sso.New(sso.Config{Insecure: !tc.insecure}).Read(req, tenantID); got != "" {
					t.Errorf("Read under the other mode's name = %q", got)
				}
			})

			t.Run("Clear", func(t *testing.T) {
				rec := httptest.NewRecorder()
				c.Clear(rec, tenantID)
				raw, ck := setCookie(t, rec)
				// Same name, Path and Secure, or the browser keeps the
				// __Host- cookie.
				check(t, raw, ck)
				if ck.Value != "" || ck.MaxAge >= 0 || !strings.Contains(raw, "Max-Age=0") {
					t.Errorf("%s: want an empty value and Max-Age=0", raw)
				}
			})
		})
	}
}

func TestIssueIsFresh(t *testing.T) {
	c := sso.New(sso.Config{})
	seen := map[string]bool{}
	for range 100 {
		rec := httptest.NewRecorder()
		h := c.Issue(rec, tenantID, time.Now().Add(time.Hour))
		if seen[h] {
			t.Fatal("Issue wrote the same session twice")
		}
		seen[h] = true
	}
}

func TestRead(t *testing.T) {
	c := sso.New(sso.Config{})
	name := c.Name(tenantID)
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		want    string
	}{
		{"no cookie", nil, ""},
		{"other cookies only", []*http.Cookie{{Name: "foyer-" + tenantID, Value: "abc"}, {Name: "x", Value: "y"}}, ""},
		{"empty value", []*http.Cookie{{Name: name, Value: ""}}, ""},
		{"128 bytes", []*http.Cookie{{Name: name, Value: strings.Repeat("a", 128)}}, sso.Hash(strings.Repeat("a", 128))},
		{"129 bytes (oversized)", []*http.Cookie{{Name: name, Value: strings.Repeat("a", 129)}}, ""},
		{"4 KiB (oversized)", []*http.Cookie{{Name: name, Value: strings.Repeat("a", 4096)}}, ""},
		{"present", []*http.Cookie{{Name: name, Value: "v"}}, sso.Hash("v")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://login.foyer.example/", nil)
			for _, ck := range tc.cookies {
				req.AddCookie(ck)
			}
			if got := c.Read(req, tenantID); got != tc.want {
				t.Fatalf("Read = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHash(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// FIPS 180-2 test vectors.
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	} {
		if got := sso.Hash(tc.in); got != tc.want {
			t.Errorf("Hash(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	s := sso.NewSecret()
	if sso.Hash(s) != sso.Hash(s) {
		t.Error("Hash is not stable")
	}
	if sso.Hash(s) == sso.Hash(s+"x") || sso.Hash(s) == s {
		t.Error("Hash does not depend on its input")
	}
}

var reBase64URL = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestNewSecret(t *testing.T) {
	const n = 2000
	seen := make(map[string]bool, n)
	var ones int
	var orBytes, andBytes [32]byte
	for i := range andBytes {
		andBytes[i] = 0xff
	}
	for range n {
		s := sso.NewSecret()
		if !reBase64URL.MatchString(s) {
			t.Fatalf("NewSecret() = %q, want 43 base64url characters", s)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("NewSecret() = %q: decodes to %d bytes, %v; want 32", s, len(b), err)
		}
		if seen[s] {
			t.Fatalf("NewSecret() returned %q twice", s)
		}
		seen[s] = true
		for i, x := range b {
			ones += bits.OnesCount8(x)
			orBytes[i] |= x
			andBytes[i] &= x
		}
	}
	// Every bit of every byte varies across the secrets: no position is
	// left zero or constant.
	for i := range orBytes {
		if orBytes[i] != 0xff || andBytes[i] != 0 {
			t.Fatalf("byte %d: OR %08b, AND %08b across %d secrets; a bit never changes", i, orBytes[i], andBytes[i], n)
		}
	}
	// About half the bits are set: 512,000 fair bits have a standard
	// deviation of ~0.07 %, so 1 % is a bound no crypto/rand output
	// crosses.
	if frac := float64(ones) / (n * 256); frac < 0.49 || frac > 0.51 {
		t.Fatalf("fraction of set bits %.4f, want ~0.5", frac)
	}
}
