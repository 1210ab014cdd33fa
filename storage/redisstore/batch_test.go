package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage"
)

// roundTrips counts the MGETs a client sends: alone, or in pipelines.
type roundTrips struct {
	singles, pipelines, piped atomic.Int64
}

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "mget" {
			r.singles.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var mgets int64
		for _, c := range cmds {
			if c.Name() == "mget" {
				mgets++
			}
		}
		if mgets > 0 { // not the connection's handshake
			r.pipelines.Add(1)
			r.piped.Add(mgets)
		}
		return next(ctx, cmds)
	}
}

// batchEnv is a batcher on a miniredis with n keys k0…k(n-1) holding
// v0…v(n-1).
type batchEnv struct {
	mr    *miniredis.Miniredis
	b     *mgetBatcher
	trips *roundTrips
}

func newBatchEnv(t *testing.T, n int) *batchEnv {
	t.Helper()
	mr := miniredis.RunT(t)
	for i := range n {
		mr.Set(fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	e := &batchEnv{mr: mr, b: &mgetBatcher{rdb: client}, trips: &roundTrips{}}
	client.AddHook(e.trips)
	return e
}

// join makes the next leader wait, before sending, for want callers in
// its batch.
func (e *batchEnv) join(want int) {
	e.b.yield = func() { e.b.waitForming(want) }
}

// waitForming waits until n callers are in the forming batch.
func (b *mgetBatcher) waitForming(n int) {
	for {
		b.mu.Lock()
		k := len(b.forming)
		b.mu.Unlock()
		if k >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// callers runs n concurrent mgets of (k<i>, missing) and returns their
// replies and errors, by caller.
func (e *batchEnv) callers(ctx func(i int) context.Context, n int) ([][]any, []error) {
	vals, errs := make([][]any, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { vals[i], errs[i] = e.b.mget(ctx(i), fmt.Sprint("k", i), "missing") })
	}
	wg.Wait()
	return vals, errs
}

func background(int) context.Context { return context.Background() }

func TestMGetBatch(t *testing.T) {
	const n = 40
	e := newBatchEnv(t, n)
	e.join(n)
	vals, errs := e.callers(background, n)
	for i := range n {
		if errs[i] != nil || len(vals[i]) != 2 || vals[i][0] != fmt.Sprint("v", i) || vals[i][1] != nil {
			t.Errorf("caller %d got %v, %v; want [v%d <nil>]", i, vals[i], errs[i], i)
		}
	}
	if p, c, s := e.trips.pipelines.Load(), e.trips.piped.Load(), e.trips.singles.Load(); p != 1 || c != n || s != 0 {
		t.Fatalf("%d pipelines of %d commands and %d single MGETs; want one pipeline of %d", p, c, s, n)
	}
}

func TestMGetAlone(t *testing.T) {
	e := newBatchEnv(t, 1)
	for range 3 {
		vals, err := e.b.mget(t.Context(), "k0", "missing")
		if err != nil || len(vals) != 2 || vals[0] != "v0" || vals[1] != nil {
			t.Fatalf("mget = %v, %v", vals, err)
		}
	}
	if p, s := e.trips.pipelines.Load(), e.trips.singles.Load(); p != 0 || s != 3 {
		t.Fatalf("%d pipelines and %d single MGETs; want 3 plain MGETs", p, s)
	}
}

func TestMGetBatchServerDown(t *testing.T) {
	const n = 20
	e := newBatchEnv(t, n)
	e.mr.Close()
	e.join(n)
	done := make(chan struct{})
	var errs []error
	go func() {
		defer close(done)
		_, errs = e.callers(background, n)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("callers still waiting 30 s after the server went down")
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("caller %d: no error with the server down", i)
		}
	}
}

func TestMGetBatchCancellation(t *testing.T) {
	const n = 10
	t.Run("leader cancelled", func(t *testing.T) {
		// The leader's cancelled context fails none of its followers.
		e := newBatchEnv(t, n)
		e.join(n)
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		vals, errs := make([][]any, n), make([]error, n)
		var wg sync.WaitGroup
		wg.Go(func() { vals[0], errs[0] = e.b.mget(cancelled, "k0") })
		e.b.waitForming(1) // caller 0 leads
		for i := 1; i < n; i++ {
			wg.Go(func() { vals[i], errs[i] = e.b.mget(context.Background(), fmt.Sprint("k", i)) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || len(vals[i]) != 1 || vals[i][0] != fmt.Sprint("v", i) {
				t.Errorf("caller %d got %v, %v; want [v%d]", i, vals[i], errs[i], i)
			}
		}
	})
	t.Run("follower cancelled while waiting", func(t *testing.T) {
		e := newBatchEnv(t, 1)
		release := make(chan struct{})
		e.b.yield = func() { <-release } // the leader holds its batch
		leader := make(chan error, 1)
		go func() {
			_, err := e.b.mget(context.Background(), "k0")
			leader <- err
		}()
		e.b.waitForming(1)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := e.b.mget(ctx, "k0"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting follower: %v, want its deadline", err)
		}
		close(release)
		if err := <-leader; err != nil {
			t.Fatalf("leader: %v", err)
		}
	})
}

// TestTokenUserBatchUnavailable checks the store's contract through a
// batch: every caller of a failed batch gets storage.ErrUnavailable and
// its own request's failure is recorded (so each answers 503).
func TestTokenUserBatchUnavailable(t *testing.T) {
	const n = 8
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	s := New(client, Config{})
	mr.Close()
	joined := make(chan struct{})
	s.mgets.yield = func() {
		s.mgets.waitForming(n)
		close(joined)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, tracker := storage.TrackFailures(context.Background())
			_, _, err := s.TokenUser(ctx, "t", "g", "j", "t", fmt.Sprint("u", i))
			if !errors.Is(err, storage.ErrUnavailable) || !tracker.Failed() {
				t.Errorf("caller %d: %v (failure recorded: %v); want ErrUnavailable, recorded", i, err, tracker.Failed())
			}
		})
	}
	wg.Wait()
	select {
	case <-joined:
	default:
		t.Fatal("the callers never formed one batch")
	}
}
