package provider

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestDeadline: a request's context ends at the configured deadline, and a
// handler that wrote nothing by then is answered 503 with Retry-After.
func TestDeadline(t *testing.T) {
	h := New(Config{
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		RequestTimeout: 50 * time.Millisecond,
		Graph: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.Context().Deadline(); !ok {
				t.Error("the request has no deadline")
			}
			<-r.Context().Done() // a handler that gives up silently
		}),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1.0/me", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || body["error"] != "temporarilyUnavailable" {
		t.Errorf("%d, Retry-After %q, %v; want 503 temporarilyUnavailable with Retry-After", rec.Code, rec.Header().Get("Retry-After"), body)
	}
}
