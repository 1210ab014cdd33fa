package faultproxy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage/faultproxy"
)

// start returns a proxy in front of a Redis server (FOYER_TEST_REDIS_URL's
// when set, else an embedded one) and a client through it that neither
// retries nor waits long.
func start(t *testing.T) (*faultproxy.Proxy, *redis.Client, *redis.Client) {
	t.Helper()
	target := ""
	if u := os.Getenv("FOYER_TEST_REDIS_URL"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		target = opt.Addr
	} else {
		m := miniredis.RunT(t)
		target = m.Addr()
	}
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	through := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ReadTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true})
	direct := redis.NewClient(&redis.Options{Addr: target})
	t.Cleanup(func() { through.Close(); direct.Close() })
	return p, through, direct
}

// run tells this run's keys from an earlier run's on a shared Redis.
var run = time.Now().UnixNano()

// key is the key of test t in this run.
func key(t *testing.T) string { return fmt.Sprintf("faultproxy-test:%d:%s", run, t.Name()) }

func TestForwards(t *testing.T) {
	_, c, _ := start(t)
	ctx := t.Context()
	if err := c.Set(ctx, key(t), "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, key(t)).Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v", v, err)
	}
}

func TestDelayReply(t *testing.T) {
	p, c, direct := start(t)
	ctx := t.Context()
	p.DelayReply(faultproxy.Contains("incr"), time.Second, 1)
	err := c.Incr(ctx, key(t)).Err()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("INCR through a delayed reply: %v, want a timeout", err)
	}
	// The command ran even though its reply was late.
	if n, err := direct.Get(ctx, key(t)).Int(); err != nil || n != 1 {
		t.Fatalf("the counter is %d, %v; want 1", n, err)
	}
	if p.Matched() != 1 {
		t.Fatalf("Matched = %d, want 1", p.Matched())
	}
	// The rule is used up: the next INCR is answered in time.
	if n, err := c.Incr(ctx, key(t)).Result(); err != nil || n != 2 {
		t.Fatalf("second INCR = %d, %v", n, err)
	}
}

func TestDropAfterRequest(t *testing.T) {
	p, c, direct := start(t)
	ctx := t.Context()
	p.DropAfterRequest(faultproxy.Contains("incr"), 1)
	if err := c.Incr(ctx, key(t)).Err(); err == nil {
		t.Fatal("INCR whose connection was dropped succeeded")
	}
	if n, err := direct.Get(ctx, key(t)).Int(); err != nil || n != 1 {
		t.Fatalf("the counter is %d, %v; want 1: the command must have run", n, err)
	}
	if n, err := c.Incr(ctx, key(t)).Result(); err != nil || n != 2 {
		t.Fatalf("INCR after the drop = %d, %v", n, err)
	}
}

func TestFreezeAndThaw(t *testing.T) {
	p, c, _ := start(t)
	ctx := t.Context()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.Freeze()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := c.Ping(short).Err()
	cancel()
	if err == nil {
		t.Fatal("PING answered while frozen")
	}
	p.Thaw()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after thaw: %v", err)
	}
}

func TestDropAllAndClose(t *testing.T) {
	p, c, _ := start(t)
	ctx := t.Context()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if p.Conns() == 0 {
		t.Fatal("no connection counted")
	}
	p.DropAll()
	deadline := time.Now().Add(5 * time.Second)
	for p.Conns() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Conns() != 0 {
		t.Fatalf("%d connections left after DropAll", p.Conns())
	}
	// go-redis notices the dead connection and dials again.
	var err error
	for range 3 {
		if err = c.Ping(ctx).Err(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("PING after DropAll: %v", err)
	}
	p.Freeze() // Close must not hang on held traffic
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
