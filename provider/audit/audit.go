package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// Store appends events.
type Store interface {
	AppendAudit(ctx context.Context, tenantID string, e storage.AuditEvent) (string, error)
}

// Categories of events.
const (
	CategoryUserManagement = "UserManagement"
	CategoryPolicy         = "Policy"
	CategoryAuthentication = "Authentication"
)

// Results of events.
const (
	Success = "success"
	Failure = "failure"
)

// Recorder writes audit events.
type Recorder struct {
	store     Store
	log       *slog.Logger
	clock     func() time.Time
	requestID func(context.Context) string
}

// Config configures a Recorder.
type Config struct {
	Store  Store
	Logger *slog.Logger
	Clock  func() time.Time
	// RequestID returns the request ID in ctx, stored as correlationId.
	RequestID func(context.Context) string
}

// New returns a Recorder.
func New(cfg Config) *Recorder {
	r := &Recorder{store: cfg.Store, log: cfg.Logger, clock: cfg.Clock, requestID: cfg.RequestID}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	if r.requestID == nil {
		r.requestID = func(context.Context) string { return "" }
	}
	return r
}

// Record appends e to the tenant's log, filling Time and RequestID when
// unset. Errors are logged, not returned.
func (r *Recorder) Record(ctx context.Context, tenantID string, e storage.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = r.clock().UTC()
	}
	if e.RequestID == "" {
		e.RequestID = r.requestID(ctx)
	}
	if e.Actor == "" {
		e.Actor = "anonymous"
	}
	if _, err := r.store.AppendAudit(context.WithoutCancel(ctx), tenantID, e); err != nil {
		r.log.WarnContext(ctx, "audit event not recorded", "tenant", tenantID, "activity", e.Activity, "err", err)
	}
}
