package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
)

// The end-to-end tests (cmd/foyer/graph_*_test.go) run the API with real
// tokens on a real store; these check the authentication step and the
// envelope with stand-ins, down to the cases a real store cannot stage.

type fakeTenants map[string]storage.Tenant

// downTenant is a tenant ID whose lookup fails as with the store down.
const downTenant = "00000000-0000-4000-8000-00000000d0a1"

func (f fakeTenants) Resolve(_ context.Context, id string) (storage.Tenant, error) {
	if id == downTenant {
		return storage.Tenant{}, fmt.Errorf("get: %w", storage.ErrUnavailable)
	}
	t, ok := f[id]
	if !ok {
		return storage.Tenant{}, fault.New(fault.NotFound, "tenantNotFound", "no")
	}
	return t, nil
}

// fakeVerifier accepts "<tid>.<sub>.sig" tokens whose payload is JSON with
// tid and sub, and whose user it holds and is enabled; a sub of "down"
// fails as the store would.
type fakeVerifier struct{ users map[string]storage.User }

func (fakeVerifier) Peek(raw string) (iss, tid string, ok bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c bearer.Claims
	if err != nil || json.Unmarshal(b, &c) != nil {
		return "", "", false
	}
	return c.Issuer, c.TenantID, true
}

func (f fakeVerifier) VerifyUser(_ context.Context, tenantID, raw string) (bearer.Claims, storage.User, error) {
	_, tid, _ := f.Peek(raw)
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c bearer.Claims
	json.Unmarshal(b, &c)
	invalid := func(msg string) (bearer.Claims, storage.User, error) {
		return bearer.Claims{}, storage.User{}, fault.Wrap(bearer.ErrInvalid, fault.Unauthenticated, codeInvalidToken, msg)
	}
	u, ok := f.users[c.Subject]
	switch {
	case c.Subject == "down":
		return bearer.Claims{}, storage.User{}, fmt.Errorf("token user: %w", storage.ErrUnavailable)
	case tid != tenantID || parts[2] != "sig":
		return invalid("The access token's signature is invalid.")
	case !ok:
		return invalid("The user of the access token no longer exists.")
	case !u.AccountEnabled:
		return invalid("The user's account is disabled.")
	}
	c.ID = "grant.jti"
	return c, u, nil
}

func fakeToken(tid, sub, scp string) string {
	payload, _ := json.Marshal(map[string]string{"tid": tid, "sub": sub, "scp": scp})
	return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".sig"
}

func TestAuthenticate(t *testing.T) {
	tid := storage.NewID()
	alice := storage.User{ID: storage.NewID(), DisplayName: "Alice", UserType: "Member", AccountEnabled: true}
	bob := storage.User{ID: storage.NewID(), DisplayName: "Bob", UserType: "Member"}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	api := New(Config{
		URLs:    tenancy.URLs{Base: "https://foyer.example"},
		Tenants: fakeTenants{tid: {ID: tid, Kind: storage.External}},
		Tokens:  fakeVerifier{users: map[string]storage.User{alice.ID: alice, bob.ID: bob}},
		Clock:   func() time.Time { return now },
	})
	serve := func(auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/v1.0/me", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		w.Header().Set("X-Request-Id", "req-1") // as the router's middleware does
		api.ServeHTTP(w, r)
		return w
	}

	w := serve("Bearer " + fakeToken(tid, alice.ID, "User.Read"))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"displayName":"Alice"`) {
		t.Fatalf("valid token: %d %s", w.Code, w.Body)
	}

	for _, tc := range []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"no token", "", 401, `Bearer realm="https://foyer.example/v1.0"`},
		{"bad signature", "Bearer " + strings.TrimSuffix(fakeToken(tid, alice.ID, "User.Read"), "sig") + "xyz", 401, `Bearer error="invalid_token"`},
		{"unknown tenant", "Bearer " + fakeToken(storage.NewID(), alice.ID, "User.Read"), 401, `Bearer error="invalid_token"`},
		{"tid not a GUID", "Bearer " + fakeToken("contoso", alice.ID, "User.Read"), 401, `Bearer error="invalid_token"`},
		{"no such user", "Bearer " + fakeToken(tid, storage.NewID(), "User.Read"), 401, `Bearer error="invalid_token"`},
		{"disabled user", "Bearer " + fakeToken(tid, bob.ID, "User.Read"), 401, `Bearer error="invalid_token"`},
		{"payload not base64", "Bearer a.b!.c", 401, `Bearer error="invalid_token"`},
		{"store down at the tenant", "Bearer " + fakeToken(downTenant, alice.ID, "User.Read"), 503, ""},
		{"store down at revocation", "Bearer " + fakeToken(tid, "down", "User.Read"), 503, ""},
		{"no scope", "Bearer " + fakeToken(tid, alice.ID, "openid"), 403, `Bearer error="insufficient_scope", scope="User.Read"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(tc.auth)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if h := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(h, tc.challenge) || (tc.challenge == "") != (h == "") {
				t.Fatalf("WWW-Authenticate %q, want %q…", h, tc.challenge)
			}
			var env struct {
				Error struct {
					Code, Message string
					InnerError    map[string]string
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
				t.Fatalf("envelope: %v %s", err, w.Body)
			}
			if env.Error.InnerError["request-id"] != "req-1" || env.Error.InnerError["date"] != "2026-01-02T03:04:05Z" ||
				w.Header().Get("request-id") != "req-1" {
				t.Fatalf("innerError %v, request-id header %q", env.Error.InnerError, w.Header().Get("request-id"))
			}
			if tc.status == 503 && (w.Header().Get("Retry-After") == "" || env.Error.Code != "serviceNotAvailable") {
				t.Fatalf("503: Retry-After %q, code %q", w.Header().Get("Retry-After"), env.Error.Code)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:          `"plain"`,
		`a "quoted" \ b`: `"a \"quoted\" \\ b"`,
		"line\r\nbreak":  `"linebreak"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestQueryOptions(t *testing.T) {
	for _, tc := range []struct {
		query string
		ok    bool
	}{
		{"", true},
		{"$select=displayName", true},
		{"foo=bar&$select=id", true},
		{"$filter=x", false},
		{"$select=a&$select=b", false},
		{"$SELECT=id", false},
		{"%zz", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1.0/me?"+tc.query, nil)
		if _, err := queryOptions(r, "$select"); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.query, err)
		}
	}
	sel, err := parseSelect(" displayName ,mail,displayName", true, "user", userProperties)
	if err != nil || strings.Join(sel, ",") != "displayName,mail" {
		t.Fatalf("parseSelect: %v %v", sel, err)
	}
	for _, v := range []string{"", "displayName,", "DisplayName", "roles"} {
		if _, err := parseSelect(v, true, "user", userProperties); err == nil {
			t.Errorf("parseSelect(%q) accepted", v)
		}
	}
	for v, ok := range map[string]bool{"1": true, "999": true, "0": false, "1000": false, "-1": false, "01": false, "+5": false, "x": false} {
		if _, err := parseTop(v, true, 100, 999); (err == nil) != ok {
			t.Errorf("parseTop(%q): %v", v, err)
		}
	}
}

func TestObjectOrder(t *testing.T) {
	b, err := json.Marshal(object{{"z", 1}, {"a", nil}, {"m", object{{"y", "x"}}}}.with(member{"@odata.context", "c"}))
	if err != nil || string(b) != `{"@odata.context":"c","z":1,"a":null,"m":{"y":"x"}}` {
		t.Fatalf("%s %v", b, err)
	}
}
