package oidcop

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/provider/tenancy"
)

func TestNormalizeScopes(t *testing.T) {
	o := &OP{cfg: Config{URLs: tenancy.URLs{Base: "https://id.example"}}}
	allowed := []string{"openid", "profile", "offline_access", "User.Read", "User.ReadWrite"}
	for _, tc := range []struct{ in, want string }{
		{"openid User.Read", "openid User.Read"},
		{"openid https://graph.microsoft.com/User.Read", "openid User.Read"},
		{"openid https://id.example/v1.0/User.Read", "openid User.Read"},
		{"HTTPS://Graph.Microsoft.com/user.readwrite", "User.ReadWrite"},
		{"User.Read https://graph.microsoft.com/User.Read https://id.example/v1.0/User.Read", "User.Read"},
		{"openid https://graph.microsoft.com/.default", "openid User.Read User.ReadWrite"},
		{"https://id.example/v1.0/.default User.Read", "User.Read User.ReadWrite"},
		// Left as they are, for the caller to refuse.
		{"https://graph.microsoft.com/Mail.Read", "https://graph.microsoft.com/Mail.Read"},
		{"https://graph.microsoft.com/openid", "https://graph.microsoft.com/openid"},
		{"https://evil.example/User.Read", "https://evil.example/User.Read"},
		{"https://id.example/v2.0/User.Read", "https://id.example/v2.0/User.Read"},
		{"https://id.example/v1.0/sub/User.Read", "https://id.example/v1.0/sub/User.Read"},
		{"api://app/.default", "api://app/.default"},
		{"/User.Read .default", "/User.Read .default"},
		{"user.read", "user.read"}, // bare names compare exactly, as before
		{"", ""},
	} {
		pooled := false
		got := strings.Join(o.normalizeScopes(tc.in, func() []string { pooled = true; return allowed }), " ")
		if got != tc.want {
			t.Errorf("normalizeScopes(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if pooled && !strings.Contains(tc.in, "/.default") {
			t.Errorf("normalizeScopes(%q) read the pool without .default", tc.in)
		}
	}
}

func TestIsGUID(t *testing.T) {
	for s, want := range map[string]bool{
		"9a1f3c4e-2b7d-4e8f-a6c5-0d1e2f3a4b5c":  true,
		"9A1F3C4E-2B7D-4E8F-A6C5-0D1E2F3A4B5C":  true,
		"9a1f3c4e2b7d4e8fa6c50d1e2f3a4b5c":      false,
		"9a1f3c4e-2b7d-4e8f-a6c5-0d1e2f3a4b5":   false,
		"9a1f3c4e-2b7d-4e8f-a6c5-0d1e2f3a4b5g":  false,
		"9a1f3c4e-2b7d-4e8f-a6c5_0d1e2f3a4b5c":  false,
		"9a1f3c4e-2b7d-4e8f-a6c5-0d1e2f3a\r\nX": false,
		"":                                      false,
	} {
		if got := isGUID(s); got != want {
			t.Errorf("isGUID(%q) = %v", s, got)
		}
	}
}

func TestTelemetryQuery(t *testing.T) {
	for q, ok := range map[string]bool{
		"":                              true,
		"client-request-id=x":           true,
		"x-client-SKU=a&X-CLIENT-VER=1": true,
		"code=x":                        false,
		"client_secret=x":               false,
		"client-request-id=a&code=b":    false,
		"x-app-name=a&x-app-name=b":     false,
		"x-app-name=" + strings.Repeat("a", maxTelemetryValue+1): false,
		"x-app-name=%zz": false,
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/oauth/token?"+q, nil)
		if got := telemetryQuery(w, r); got != ok {
			t.Errorf("telemetryQuery(%q) = %v, want %v", q, got, ok)
		}
	}
	// The correlation ID is echoed when it is a GUID, from the query first.
	const id = "9a1f3c4e-2b7d-4e8f-a6c5-0d1e2f3a4b5c"
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/oauth/token?client-request-id="+id, nil)
	r.Header.Set("client-request-id", "00000000-0000-0000-0000-000000000000")
	telemetryQuery(w, r)
	if got := w.Header().Get("client-request-id"); got != id {
		t.Fatalf("echoed %q, want %q", got, id)
	}
	w = httptest.NewRecorder()
	r = httptest.NewRequest(http.MethodPost, "/oauth/token", nil)
	r.Header.Set("client-request-id", id)
	telemetryQuery(w, r)
	if got := w.Header().Get("client-request-id"); got != id {
		t.Fatalf("echoed %q from the header, want %q", got, id)
	}
}

func TestFixFragment(t *testing.T) {
	for in, want := range map[string]string{
		// zitadel v3.49: the fragment escaped twice.
		"https://app.example/cb#code=abc&state=eyJ9%253D%253D":                                  "https://app.example/cb#code=abc&state=eyJ9%3D%3D",
		"https://app.example/cb#error=invalid_request&error_description=a+b%253A+c&state=%252F": "https://app.example/cb#error=invalid_request&error_description=a+b%3A+c&state=%2F",
		// No fragment: untouched.
		"https://app.example/cb?code=abc&state=x%3D": "https://app.example/cb?code=abc&state=x%3D",
	} {
		h := http.Header{"Location": {in}}
		fixFragment(h)
		if got := h.Get("Location"); got != want {
			t.Errorf("fixFragment(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestResetKeepsExchangeHeaders: an answer rewritten by conform keeps the
// echoed client-request-id and the CORS headers (a browser app must read
// the error too), and loses everything else of the first answer.
func TestResetKeepsExchangeHeaders(t *testing.T) {
	b := &bufferedWriter{header: http.Header{}}
	b.Header().Set("client-request-id", "0b8e2a52-7d4e-4b43-9a39-5c2b2a8f3c11")
	b.Header().Set("Access-Control-Allow-Origin", "https://app.example")
	b.Header().Set("Vary", "Origin")
	b.Header().Set("Content-Type", "text/plain")
	b.Header().Set("X-Internal", "1")
	b.WriteHeader(http.StatusBadRequest)
	b.Write([]byte("storage: not found"))
	b.reset()
	if b.status != 0 || b.body.Len() != 0 {
		t.Fatalf("status %d and %d body bytes after reset", b.status, b.body.Len())
	}
	for k, want := range map[string]string{
		"client-request-id":           "0b8e2a52-7d4e-4b43-9a39-5c2b2a8f3c11",
		"Access-Control-Allow-Origin": "https://app.example",
		"Vary":                        "Origin",
		"Content-Type":                "",
		"X-Internal":                  "",
	} {
		if got := b.Header().Get(k); got != want {
			t.Errorf("%s = %q after reset, want %q", k, got, want)
		}
	}
}
