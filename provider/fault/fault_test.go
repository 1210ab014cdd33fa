package fault

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"invalid", New(Invalid, "badInput", "bad"), http.StatusBadRequest},
		{"wrapped fault", fmt.Errorf("ctx: %w", New(Forbidden, "no", "no")), http.StatusForbidden},
		{"unavailable", fmt.Errorf("get: %w", storage.ErrUnavailable), http.StatusServiceUnavailable},
		{"not found", storage.ErrNotFound, http.StatusNotFound},
		{"exists", storage.ErrExists, http.StatusConflict},
		{"too many", &Error{Kind: TooMany, RetryAfter: 2 * time.Second}, http.StatusTooManyRequests},
		{"too large", New(TooLarge, "tooLarge", "x"), http.StatusRequestEntityTooLarge},
		{"media type", New(UnsupportedMedia, "x", "y"), http.StatusUnsupportedMediaType},
		{"method", New(MethodNotAllowed, "x", "y"), http.StatusMethodNotAllowed},
		{"unknown", errors.New("boom"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Status(tt.err); got != tt.want {
				t.Fatalf("Status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	if got := RetryAfterSeconds(&Error{Kind: TooMany, RetryAfter: 1500 * time.Millisecond}); got != 2 {
		t.Fatalf("got %d, want 2 (rounded up)", got)
	}
	if got := RetryAfterSeconds(storage.ErrUnavailable); got != 5 {
		t.Fatalf("unavailable: got %d, want 5", got)
	}
	if got := RetryAfterSeconds(New(Invalid, "x", "y")); got != 0 {
		t.Fatalf("invalid: got %d, want 0", got)
	}
}

func TestFromKeepsCause(t *testing.T) {
	cause := errors.New("dial tcp: refused")
	e := From(fmt.Errorf("%w: %w", storage.ErrUnavailable, cause))
	if !errors.Is(e, cause) || e.Kind != Unavailable {
		t.Fatalf("From lost the cause or kind: %+v", e)
	}
}
