package redisstore

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage"
)

// Store implements storage.Store on a Redis client. It is safe for
// concurrent use; any number of Stores, in any number of processes, may
// share one Redis deployment.
type Store struct {
	rdb         redis.UniversalClient
	now         func() time.Time
	maxRetries  int
	auditMaxLen int64
	users       userMemo
	mgets       mgetBatcher
}

// Config configures a Store. The zero value is usable.
type Config struct {
	// Clock turns absolute expiry times into TTLs; nil means time.Now.
	Clock func() time.Time
	// MaxRetries bounds the attempts of a compare-and-swap update before it
	// returns storage.ErrConflict; 0 means 16.
	MaxRetries int
	// AuditMaxLen caps each tenant's audit log: appending trims it to about
	// this many newest events (Redis trims whole stream nodes, so a few more
	// may remain). 0 means 10000.
	AuditMaxLen int64
}

var _ storage.Store = (*Store)(nil)

// New returns a Store on client. The caller keeps ownership of client and
// closes it.
func New(client redis.UniversalClient, cfg Config) *Store {
	s := &Store{rdb: client, now: cfg.Clock, maxRetries: cfg.MaxRetries, auditMaxLen: cfg.AuditMaxLen}
	s.mgets.rdb = client
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxRetries <= 0 {
		s.maxRetries = 16
	}
	if s.auditMaxLen <= 0 {
		s.auditMaxLen = 10000
	}
	return s
}

// Ping returns an error wrapping storage.ErrUnavailable if Redis does not
// answer.
func (s *Store) Ping(ctx context.Context) error {
	return fail(ctx, s.rdb.Ping(ctx).Err())
}

// fail maps a client error onto the storage contract: nil stays nil,
// redis.Nil (no such key) becomes storage.ErrNotFound, and anything else
// (connection, timeout, server or script error, cancelled context) wraps
// storage.ErrUnavailable, is recorded in ctx's FailureTracker and logged
// once (logFailure).
func fail(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return storage.ErrNotFound
	default:
		storage.RecordFailure(ctx)
		logFailure(ctx, err)
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
}

// Global index hashes; see the key layout in the package documentation.
const (
	tenantNames   = "foyer:{g}:tenant-names"
	domainTenants = "foyer:{g}:domains"
	clientTenants = "foyer:{g}:clients"
)

// tkey returns the key of tenant-scoped state: foyer:{t:<tenantID>}:parts.
func tkey(tenantID string, parts ...string) string {
	if len(parts) == 2 { // most keys: one concatenation
		return "foyer:{t:" + tenantID + "}:" + parts[0] + ":" + parts[1]
	}
	return "foyer:{t:" + tenantID + "}:" + strings.Join(parts, ":")
}

// keyKind returns the kind of a tenant-scoped key: "mail" for
// foyer:{t:T}:mail:a@b.example. Error messages name it instead of the key,
// which may hold personal data.
func keyKind(key string) string {
	_, rest, _ := strings.Cut(key, "}:")
	k, _, _ := strings.Cut(rest, ":")
	return k
}

// ttl returns the time left until end by the store's clock, at least a
// millisecond so that a past end expires at once instead of never.
func (s *Store) ttl(end time.Time) time.Duration {
	return atLeastMS(end.Sub(s.now()))
}

func atLeastMS(d time.Duration) time.Duration { return max(d, time.Millisecond) }

// eval runs a script that returns an integer.
func (s *Store) eval(ctx context.Context, sc *redis.Script, keys []string, args ...any) (int64, error) {
	n, err := sc.Run(ctx, s.rdb, keys, args...).Int64()
	return n, fail(ctx, err)
}

// opKeep is how long a one-shot script remembers an operation it did (see
// scripts.go). The client resends a command within its retry budget
// (MaxRetries times the read timeout plus backoff, seconds); a command
// held up in a paused server runs at most moments before or after its
// resend. Two minutes covers both with room to spare, and the records
// (tens of bytes each) stay few.
const opKeep = 2 * time.Minute

// opIDLen is the length of an operation ID: 16 bytes in base64url.
const opIDLen = 22

// opID returns the ID of the store call ctx is for: derived from
// storage.WithOperation's ID when ctx has one, else 128 random bits. The
// client resends a command with the same arguments, so a script that gets
// the ID as an argument recognises its own resends.
func opID(ctx context.Context) string {
	var b [16]byte
	if id := storage.Operation(ctx); id != "" {
		h := sha256.Sum256([]byte(id))
		copy(b[:], h[:])
	} else {
		crand.Read(b[:]) // never fails
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// opKey returns the key that records operation op of an opScript, in the
// hash slot of key (a tenant's or the global one).
func opKey(key, op string) string {
	if strings.HasPrefix(key, "foyer:{g}:") {
		return "foyer:{g}:op:" + op
	}
	tag, _, _ := strings.Cut(key, "}:")
	return tag + "}:op:" + op
}

// evalOp runs an opScript on keys (the operation key is put first) with
// args after the keep time, as operation op.
func (s *Store) evalOp(ctx context.Context, sc *redis.Script, op string, keys []string, args ...any) *redis.Cmd {
	keys = append([]string{opKey(keys[0], op)}, keys...)
	return sc.Run(ctx, s.rdb, keys, append([]any{opKeep.Milliseconds()}, args...)...)
}

// createNX stores raw under key for ttl (0: for ever) unless key exists,
// adding member to set (if set is not "") in the same step; false means it
// exists. A resend of the same call answers true.
func (s *Store) createNX(ctx context.Context, key string, raw []byte, ttl time.Duration, set, member string) (bool, error) {
	keys := []string{key}
	if set != "" {
		keys = append(keys, set)
	}
	n, err := s.evalOp(ctx, createNX, opID(ctx), keys, raw, ttl.Milliseconds(), member).Int64()
	return n == 1, fail(ctx, err)
}

// claim takes field of the global index hash for tenantID and then runs
// write, releasing the claim if write fails. It returns storage.ErrExists
// if the field is taken. A resend of the claim is recognised (claimField).
func (s *Store) claim(ctx context.Context, index, field, tenantID string, write func() error) error {
	n, err := s.evalOp(ctx, claimField, opID(ctx), []string{index}, field, tenantID).Int64()
	if err != nil {
		return fail(ctx, err)
	}
	if n != 1 {
		return fmt.Errorf("%w: %s %q", storage.ErrExists, strings.TrimPrefix(index, "foyer:{g}:"), field)
	}
	if err := write(); err != nil {
		// Best effort: only this call holds the claim, so deleting is safe.
		s.rdb.HDel(context.WithoutCancel(ctx), index, field)
		return err
	}
	return nil
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encode %T: %w", v, err)
	}
	return b, nil
}

func decode[T any](key, raw string) (T, error) {
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("redisstore: decode %s: %w", key, err)
	}
	return v, nil
}

// get returns the JSON value at key, or storage.ErrNotFound.
func get[T any](ctx context.Context, s *Store, key string) (T, error) {
	raw, err := s.rdb.Get(ctx, key).Result()
	if err != nil {
		var zero T
		return zero, fail(ctx, err)
	}
	return decode[T](key, raw)
}

// getAll returns the JSON values at keys, skipping missing ones, in one
// round trip per node.
func getAll[T any](ctx context.Context, s *Store, keys []string) ([]T, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fail(ctx, err)
	}
	var vals []T
	for i, c := range cmds {
		raw, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fail(ctx, err)
		}
		v, err := decode[T](keys[i], raw)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// cas is a compare-and-swap update of the JSON value at key, optionally
// moving unique index keys (each holding owner) along with it.
type cas[T any] struct {
	key string
	// orZero starts fn from T's zero value when key is missing instead of
	// returning storage.ErrNotFound.
	orZero bool
	// owner and indexes: indexes returns the unique index keys a value
	// holds; keys that appear are claimed for owner (storage.ErrExists if
	// another owner holds one), keys that disappear are released.
	owner   string
	indexes func(*T) []string
}

// apply reads the value, applies fn and stores the result if the value did
// not change meanwhile (KEEPTTL), retrying up to s.maxRetries times. fn's
// errors are returned unchanged.
func (c cas[T]) apply(ctx context.Context, s *Store, fn func(*T) error) (T, error) {
	var zero T
	op := opID(ctx)
	for attempt := range s.maxRetries {
		if attempt > 0 {
			// The value changed since it was read: back off for a random
			// while, so that writers racing for the key spread out.
			if err := sleep(ctx, rand.N(min(time.Millisecond<<attempt, 64*time.Millisecond))); err != nil {
				return zero, fail(ctx, err)
			}
		}
		raw, err := s.rdb.Get(ctx, c.key).Result()
		if errors.Is(err, redis.Nil) && c.orZero {
			raw, err = "", nil // no stored JSON value is empty
		}
		if err != nil {
			return zero, fail(ctx, err)
		}
		var v T
		if raw != "" {
			if v, err = decode[T](c.key, raw); err != nil {
				return zero, err
			}
		}
		var before []string
		if c.indexes != nil {
			before = c.indexes(&v)
		}
		if err := fn(&v); err != nil {
			return zero, err
		}
		next, err := encode(v)
		if err != nil {
			return zero, err
		}
		keys, args := []string{c.key}, []any{raw, next, c.owner}
		if c.indexes != nil {
			after := c.indexes(&v)
			for _, k := range after {
				if !slices.Contains(before, k) {
					keys, args = append(keys, k), append(args, "+")
				}
			}
			for _, k := range before {
				if !slices.Contains(after, k) {
					keys, args = append(keys, k), append(args, "-")
				}
			}
		}
		// Each attempt is its own operation: a resend of this attempt's
		// command finds it done and answers with the stored value.
		res, err := s.evalOp(ctx, casScript, op+strconv.Itoa(attempt), keys, args...).Result()
		if err != nil {
			return zero, fail(ctx, err)
		}
		switch n := res.(type) {
		case string: // done before: the value this attempt stored
			if n == "" {
				return v, nil
			}
			return decode[T](c.key, n)
		case int64:
			switch {
			case n == 1:
				return v, nil
			case n < 0:
				return zero, fmt.Errorf("%w: %s", storage.ErrExists, keyKind(keys[-n-1]))
			}
		}
	}
	return zero, fmt.Errorf("%w: %s after %d attempts", storage.ErrConflict, c.key, s.maxRetries)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unchanged returns the error for an updater that changed an immutable
// field.
func unchanged(same bool, what string) error {
	if same {
		return nil
	}
	return fmt.Errorf("redisstore: the updater may not change the %s", what)
}
