package email

import (
	"context"
	"log/slog"
)

// Log is a Sender that writes messages to a log instead of sending them.
// It is what Foyer uses when no SMTP server is configured, so that a
// developer can read verification codes on the console.
//
// Log writes the recipient, the subject and the whole text body (which
// holds verification and reset codes) at level Info: it is for local use
// only and must not be used in production, where the log would hand out
// every code. cmd/foyer warns when it falls back to it.
type Log struct {
	// Logger receives the messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Send logs m. It returns an error wrapping ErrInvalidMessage, and logs
// nothing, if m is not well formed; otherwise it returns nil.
func (l Log) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "email not sent (no SMTP server configured); logged instead",
		slog.String("to", m.To), slog.String("subject", m.Subject), slog.String("text", m.Text))
	return nil
}
