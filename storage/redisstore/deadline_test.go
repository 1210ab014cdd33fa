package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/faultproxy"
)

func TestClientTimeouts(t *testing.T) {
	opts := func(c redis.UniversalClient) (ctxOn bool, dial, read, write, pool time.Duration) {
		switch c := c.(type) {
		case *redis.Client:
			o := c.Options()
			return o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout
		case *redis.ClusterClient:
			o := c.Options()
			return o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout
		}
		t.Fatalf("client %T", c)
		return
	}
	for _, tc := range []struct {
		url                     string
		dial, read, write, pool time.Duration
	}{
		{"redis://127.0.0.1:1/0", dialTimeout, ioTimeout, ioTimeout, poolTimeout},
		{"redis+sentinel://127.0.0.1:1?master_name=m", dialTimeout, ioTimeout, ioTimeout, poolTimeout},
		{"redis+cluster://127.0.0.1:1", dialTimeout, ioTimeout, ioTimeout, poolTimeout},
		// The URL's own options win.
		{"redis://127.0.0.1:1/0?dial_timeout=7s&read_timeout=300ms&write_timeout=4s&pool_timeout=9s",
			7 * time.Second, 300 * time.Millisecond, 4 * time.Second, 9 * time.Second},
	} {
		c, err := parseURL(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		on, dial, read, write, pool := opts(c)
		if !on || dial != tc.dial || read != tc.read || write != tc.write || pool != tc.pool {
			t.Errorf("%s: ContextTimeoutEnabled %v, timeouts dial %v read %v write %v pool %v; want true, %v %v %v %v",
				tc.url, on, dial, read, write, pool, tc.dial, tc.read, tc.write, tc.pool)
		}
		c.Close()
	}
	e, err := NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if on, _, read, _, _ := opts(e.Client); !on || read != ioTimeout {
		t.Errorf("embedded: ContextTimeoutEnabled %v, read timeout %v", on, read)
	}
}

// frozenStore is a Store whose Redis (miniredis) sits behind a fault
// proxy; query holds go-redis options for the URL.
func frozenStore(t *testing.T, query string) (*Store, *faultproxy.Proxy) {
	t.Helper()
	mr := miniredis.RunT(t)
	p, err := faultproxy.Start(mr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := Open(t.Context(), "redis://"+p.Addr()+"/0?"+query)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return New(c, Config{}), p
}

// within runs f and fails the test if it has not returned after 30 s (a
// hang, not a timing).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no return after 30 s", what)
	}
}

// TestFrozenCallEndsWithItsContext: with go-redis's own timeouts at a
// minute, a store call on a frozen Redis ends with its context's deadline,
// fails with ErrUnavailable and marks the request.
func TestFrozenCallEndsWithItsContext(t *testing.T) {
	s, p := frozenStore(t, "read_timeout=1m&write_timeout=1m&pool_timeout=1m")
	if _, err := s.GetTenant(t.Context(), "t"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("before the freeze: %v", err)
	}
	p.Freeze()
	defer p.Thaw()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	ctx, tracker := storage.TrackFailures(ctx)
	within(t, "GetTenant on a frozen Redis", func() {
		if _, err := s.GetTenant(ctx, "t"); !errors.Is(err, storage.ErrUnavailable) || !tracker.Failed() {
			t.Errorf("frozen: %v (recorded %v), want ErrUnavailable, recorded", err, tracker.Failed())
		}
	})
}

// TestDetachedCallIsBounded: a call whose context has no deadline (work
// detached from its request) gets one of the client's read timeout, which
// bounds its retries too: a reply that never comes is awaited once, not
// once per retry.
func TestDetachedCallIsBounded(t *testing.T) {
	s, p := frozenStore(t, "read_timeout=200ms&max_retries=10")
	p.DelayReply(faultproxy.Contains("foyer:"), time.Minute, 100)
	within(t, "a detached call without replies", func() {
		if _, err := s.GetTenant(context.Background(), "t"); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("no reply: %v, want ErrUnavailable", err)
		}
	})
	if n := p.Matched(); n != 1 {
		t.Errorf("the command was sent %d times, want once", n)
	}
}

// TestMGetBatchDeadlines: on a frozen Redis whose client waits a minute, a
// batch ends with its callers' latest deadline: a follower leaves at its own
// deadline, the leader and a later follower when the batch gives up.
func TestMGetBatchDeadlines(t *testing.T) {
	s, p := frozenStore(t, "read_timeout=1m&write_timeout=1m&pool_timeout=1m")
	b := &s.mgets
	b.yield = func() { b.waitForming(3) }
	p.Freeze()
	defer p.Thaw()
	deadlines := []time.Duration{300 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond}
	errs := make([]error, len(deadlines))
	within(t, "a batch on a frozen Redis", func() {
		var wg sync.WaitGroup
		for i, d := range deadlines {
			if i > 0 {
				b.waitForming(i) // caller 0 leads
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				_, errs[i] = b.mget(ctx, "k")
			})
		}
		wg.Wait()
	})
	for i, err := range errs {
		if err == nil {
			t.Errorf("caller %d: no error from a frozen Redis", i)
		}
	}
	// The batch outlived caller 1, which left on its own deadline.
	if !errors.Is(errs[1], context.DeadlineExceeded) {
		t.Errorf("follower with the earliest deadline: %v, want its context's error", errs[1])
	}
}

// TestFailureLoggedOnce: a store call that fails after go-redis's retries
// (every reply lost with its connection) writes one line naming its verb;
// go-redis's own lines are JSON through the same logger.
func TestFailureLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	SetLogger(slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil)))
	t.Cleanup(func() { logger.Store(nil) })

	s, p := frozenStore(t, "max_retries=3&min_retry_backoff=1ms&max_retry_backoff=2ms")
	p.DropAfterRequest(faultproxy.Contains("foyer:"), 100)
	if _, err := s.GetTenant(t.Context(), "t"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("GetTenant with every reply lost: %v", err)
	}
	if n := p.Matched(); n != 4 {
		t.Errorf("the command was sent %d times, want 4 (three retries)", n)
	}
	redisLog{}.Printf(context.Background(), "redis: pool: %s", "a line of go-redis")

	mu.Lock()
	defer mu.Unlock()
	var failed, own int
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		switch {
		case rec["msg"] == "redis call failed":
			failed++
			if rec["verb"] != "GetTenant" || rec["level"] != "ERROR" {
				t.Errorf("failure line %v: want verb GetTenant at ERROR", rec)
			}
		case rec["component"] == "go-redis" && rec["msg"] == "pool: a line of go-redis":
			own++
		}
	}
	if failed != 1 || own != 1 {
		t.Errorf("%d failure lines and %d go-redis lines, want one each:\n%s", failed, own, buf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestPoolStats(t *testing.T) {
	s, _ := frozenStore(t, "")
	if _, err := s.GetTenant(t.Context(), "t"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if st := s.PoolStats(); st.TotalConns < 1 || st.IdleConns != st.TotalConns || st.PendingRequests != 0 {
		t.Errorf("after one call: %+v, want an idle connection and nothing pending", st)
	}
}

func TestVerb(t *testing.T) {
	s := &Store{}
	if got := s.ExportedForVerbTest(); got != "ExportedForVerbTest" {
		t.Errorf("verb in a Store method's closure = %q", got)
	}
	if got := verbFromHere(); got != "" {
		t.Errorf("verb outside any exported name = %q", got)
	}
}

// ExportedForVerbTest calls verb as fail would, from a closure.
func (s *Store) ExportedForVerbTest() string {
	var got string
	func() { got = verbFromHere() }()
	return got
}

// verbFromHere stands for fail and logFailure (verb skips their frames).
func verbFromHere() string { return func() string { return verb() }() }
