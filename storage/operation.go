package storage

import (
	"context"
	"errors"
	"time"
)

// Operations and retries
//
// A state change reaches the backend as a command that may be sent more
// than once: the Redis client resends a command whose reply did not come
// in time, and the command may have run already. Every one-shot verb of
// this package (a create that must not overwrite, a compare-and-swap, a
// single-use take, a refresh-token rotation) names each call with an
// operation ID that travels with every resend, and the backend answers a
// resend of an operation it has done as it answered the first time. A
// different call (a new operation ID) is never taken for a resend: it gets
// ErrExists, ErrConsumed or a replay's revocation as before.

type operationKey struct{}

// WithOperation returns a context whose next state-changing store call is
// the operation id: a call repeated with the same id has the effect of one
// call and answers as the first did (while the backend remembers it, at
// least a minute). Without it each call gets a fresh random ID. Use one id
// for one call only; tests use it to repeat a call as a client retry would.
func WithOperation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, operationKey{}, id)
}

// Operation returns the operation ID WithOperation put in ctx, or "".
func Operation(ctx context.Context) string {
	id, _ := ctx.Value(operationKey{}).(string)
	return id
}

// TakenError is the error TakeOnce returns for a value taken by another
// operation: it wraps ErrConsumed and says when the value was first taken,
// so that a caller can tell its own client's retry from a replay.
type TakenError struct {
	What string
	// At is when the value was taken; zero if the backend does not know.
	At time.Time
}

func (e *TakenError) Error() string { return ErrConsumed.Error() + ": " + e.What }
func (e *TakenError) Unwrap() error { return ErrConsumed }

// TakenAt returns when the value of a TakeOnce that answered err was
// taken, and whether err says so.
func TakenAt(err error) (time.Time, bool) {
	var te *TakenError
	if errors.As(err, &te) && !te.At.IsZero() {
		return te.At, true
	}
	return time.Time{}, false
}
