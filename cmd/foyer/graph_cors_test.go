package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestGraphCORS: a single-page app on any origin may call the API from the
// browser: the preflight allows the bearer token's header and the API's
// methods, and every answer (errors too, so the app can read
// WWW-Authenticate) lets the page read it, without credentials.
func TestGraphCORS(t *testing.T) {
	w := startGraphWorld(t)
	tok := w.as(w.x, "cust").token(t, "spa", "openid", "User.Read").AccessToken
	const origin = "https://spa.customer.example"

	t.Run("preflight", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodPost, http.MethodDelete} {
			req, _ := http.NewRequest(http.MethodOptions, w.env.base+"/v1.0/me", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", m)
			req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			r := w.do(t, req)
			h := r.header
			if r.status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
				h.Get("Access-Control-Allow-Methods") != m ||
				!strings.EqualFold(strings.ReplaceAll(h.Get("Access-Control-Allow-Headers"), " ", ""), "authorization,content-type") ||
				h.Get("Access-Control-Allow-Credentials") != "" || h.Get("Access-Control-Max-Age") != "600" {
				t.Fatalf("preflight %s: %d %v", m, r.status, h)
			}
		}
	})
	t.Run("preflight for a method the API has not", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, w.env.base+"/v1.0/me", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPut)
		r := w.do(t, req)
		if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
			t.Fatalf("PUT preflight allowed: %d %v", r.status, r.header)
		}
	})
	t.Run("preflight for an unlisted header", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, w.env.base+"/v1.0/me", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		req.Header.Set("Access-Control-Request-Headers", "x-secret")
		r := w.do(t, req)
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight with an unlisted header allowed: %d %v", r.status, r.header)
		}
	})
	for _, tc := range []struct {
		name, token string
		status      int
	}{{"success", tok, http.StatusOK}, {"invalid token", tok[:len(tok)-4], http.StatusUnauthorized}} {
		t.Run("actual request, "+tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, w.env.base+"/v1.0/me", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			r := w.do(t, req)
			h := r.header
			if r.status != tc.status || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("%d %v", r.status, h)
			}
			exposed := strings.ToLower(h.Get("Access-Control-Expose-Headers"))
			for _, name := range []string{"www-authenticate", "retry-after", "request-id"} {
				if !strings.Contains(exposed, name) {
					t.Fatalf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
				}
			}
		})
	}
}
