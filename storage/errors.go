package storage

import (
	"context"
	"errors"
	"sync/atomic"
)

// Sentinel errors. Backends wrap them with %w; callers compare with errors.Is.
var (
	// ErrNotFound reports that the object does not exist (or has expired).
	ErrNotFound = errors.New("storage: not found")
	// ErrExists reports that a create would overwrite an existing object or
	// take a unique name, email, domain or client ID already in use.
	ErrExists = errors.New("storage: already exists")
	// ErrConflict reports that a compare-and-swap update lost to concurrent
	// writers more often than the backend's retry bound.
	ErrConflict = errors.New("storage: update conflict")
	// ErrConsumed reports that a single-use object was already used. The
	// object may carry what it had issued, so callers can revoke it.
	ErrConsumed = errors.New("storage: already consumed")
	// ErrUnavailable reports that the backend could not be reached or did
	// not answer. Handlers map it to 503 with Retry-After.
	ErrUnavailable = errors.New("storage: backend unavailable")
)

type failureKey struct{}

// FailureTracker records whether a backend reported ErrUnavailable while
// serving one request. The HTTP layer installs one per request with
// TrackFailures and, when it fired, answers 503 instead of whatever a
// library handler produced from the failed call.
type FailureTracker struct{ failed atomic.Bool }

// Failed reports whether RecordFailure was called for this tracker.
func (f *FailureTracker) Failed() bool { return f != nil && f.failed.Load() }

// TrackFailures returns a context carrying a new FailureTracker.
func TrackFailures(ctx context.Context) (context.Context, *FailureTracker) {
	t := &FailureTracker{}
	return context.WithValue(ctx, failureKey{}, t), t
}

// RecordFailure marks the tracker in ctx, if any, as failed. Backends call it
// whenever they return ErrUnavailable.
func RecordFailure(ctx context.Context) {
	if t, ok := ctx.Value(failureKey{}).(*FailureTracker); ok {
		t.failed.Store(true)
	}
}
