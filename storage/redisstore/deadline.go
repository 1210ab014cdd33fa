package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client timeouts Open and NewEmbedded set where the URL leaves them unset
// (go-redis's URL options dial_timeout, read_timeout, write_timeout and
// pool_timeout override them). A request's deadline is normally shorter and
// wins: the clients are built with ContextTimeoutEnabled, so every socket
// read and write, pool wait and retry backoff ends with the caller's
// context. These bound what has no deadline of its own, and detect a dead
// connection within a request (a read retried on a fresh connection still
// fits in the request's deadline).
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second // ReadTimeout and WriteTimeout
	poolTimeout = 2 * time.Second
)

// timeouts fills the unset timeouts of a client's options and turns on
// ContextTimeoutEnabled.
func timeouts(ctxTimeout *bool, dial, read, write, pool *time.Duration) {
	*ctxTimeout = true
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{{dial, dialTimeout}, {read, ioTimeout}, {write, ioTimeout}, {pool, poolTimeout}} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
}

// bounded is a go-redis hook that gives a call whose context has no
// deadline (start-up, clean-up detached from a request with
// context.WithoutCancel) one of limit, retries included: no call waits on
// Redis longer than that in total.
type bounded struct{ limit time.Duration }

// boundedBy returns the hook for a client whose read timeout is read: the
// limit is read, or ioTimeout when the URL disabled the read timeout (Foyer
// sends no blocking command, so no call needs to wait forever).
func boundedBy(read time.Duration) bounded {
	if read <= 0 {
		read = ioTimeout
	}
	return bounded{read}
}

// keeps reports whether b passes ctx on as it is, having a deadline.
func (bounded) keeps(ctx context.Context) bool {
	_, ok := ctx.Deadline()
	return ok
}

func (bounded) DialHook(next redis.DialHook) redis.DialHook { return next }

func (b bounded) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if b.keeps(ctx) {
			return next(ctx, cmd)
		}
		ctx, cancel := context.WithTimeout(ctx, b.limit)
		defer cancel()
		return next(ctx, cmd)
	}
}

func (b bounded) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if b.keeps(ctx) {
			return next(ctx, cmds)
		}
		ctx, cancel := context.WithTimeout(ctx, b.limit)
		defer cancel()
		return next(ctx, cmds)
	}
}

// PoolStats are the client's connection counts, for tests and, later,
// metrics: every pool of the client (the main pool and the pipeline pool;
// every node's on Cluster) summed.
type PoolStats struct {
	// TotalConns is the number of open connections; IdleConns of those not
	// in use.
	TotalConns, IdleConns int
	// PendingRequests is the number of calls waiting for a connection.
	PendingRequests int
	// Timeouts counts the waits for a connection that timed out, since
	// the client started.
	Timeouts int
}

// PoolStats returns the connection counts of the store's client.
func (s *Store) PoolStats() PoolStats {
	st := s.rdb.PoolStats()
	p := PoolStats{
		TotalConns: int(st.TotalConns), IdleConns: int(st.IdleConns),
		PendingRequests: int(st.PendingRequests), Timeouts: int(st.Timeouts),
	}
	if pp := st.PipelineStats; pp != nil {
		p.TotalConns += int(pp.TotalConns)
		p.IdleConns += int(pp.IdleConns)
		p.PendingRequests += int(pp.PendingRequests)
		p.Timeouts += int(pp.Timeouts)
	}
	return p
}

// logger receives one line per failed store call and go-redis's own lines
// (see SetLogger); nil means slog.Default().
var logger atomic.Pointer[slog.Logger]

// SetLogger sends the package's log lines to l: one error line per store
// call that failed with storage.ErrUnavailable, naming the Store method (the
// verb) and whether it was a timeout, and go-redis's own lines (redis.SetLogger,
// process-wide like go-redis's logger itself), at warning level.
func SetLogger(l *slog.Logger) {
	logger.Store(l)
	redis.SetLogger(redisLog{})
}

func currentLogger() *slog.Logger {
	if l := logger.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// redisLog implements go-redis's logging interface (Printf) on slog.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	currentLogger().LogAttrs(ctx, slog.LevelWarn, msg, slog.String("component", "go-redis"))
}

// logFailure writes the line of a failed store call. It runs once per
// failed call (fail is called where the client's error surfaces, after
// go-redis's retries), never per retry.
func logFailure(ctx context.Context, err error) {
	l := currentLogger()
	if !l.Enabled(ctx, slog.LevelError) {
		return
	}
	l.LogAttrs(ctx, slog.LevelError, "redis call failed",
		slog.String("verb", verb()), slog.Bool("timeout", isTimeout(err)), slog.String("err", err.Error()))
}

// isTimeout reports whether err is a deadline or a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// verb returns the name of the outermost exported Store method on the
// caller's stack ("TokenUser"), or "" if there is none.
func verb() string {
	var pcs [32]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	const method = "/storage/redisstore.(*Store)."
	name := ""
	for {
		f, more := frames.Next()
		if i := strings.LastIndex(f.Function, method); i >= 0 {
			m := f.Function[i+len(method):]
			if j := strings.IndexByte(m, '.'); j >= 0 {
				m = m[:j] // a closure inside the method
			}
			if m != "" && m[0] >= 'A' && m[0] <= 'Z' {
				name = m
			}
		}
		if !more {
			return name
		}
	}
}
