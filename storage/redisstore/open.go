package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Open returns a client for the Redis deployment rawURL names (see the
// package documentation for the forms) after pinging it. A deployment that
// does not answer is an error wrapping storage.ErrUnavailable.
func Open(ctx context.Context, rawURL string) (redis.UniversalClient, error) {
	c, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fail(ctx, err)
	}
	return c, nil
}

// parseURL returns an unconnected client for rawURL.
func parseURL(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("redisstore: the Redis URL has no scheme")
	}
	base, topology, _ := strings.Cut(scheme, "+")
	plain := base + "://" + rest
	var (
		c     redis.UniversalClient
		err   error
		limit time.Duration // the bound of a call without a deadline
	)
	switch topology {
	case "":
		var o *redis.Options
		if o, err = redis.ParseURL(rawURL); err == nil {
			timeouts(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
			c, limit = redis.NewClient(o), o.ReadTimeout
		}
	case "sentinel":
		var o *redis.FailoverOptions
		if o, err = redis.ParseFailoverURL(plain); err == nil {
			if o.MasterName == "" {
				return nil, errors.New("redisstore: a Sentinel URL needs master_name=")
			}
			timeouts(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
			c, limit = redis.NewFailoverClient(o), o.ReadTimeout
		}
	case "cluster":
		var o *redis.ClusterOptions
		if o, err = redis.ParseClusterURL(plain); err == nil {
			timeouts(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
			c, limit = redis.NewClusterClient(o), o.ReadTimeout
		}
	default:
		return nil, fmt.Errorf("redisstore: unknown Redis URL scheme %q", scheme)
	}
	if err != nil {
		// A *url.Error quotes the URL, password included.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redisstore: Redis URL: %w", err)
	}
	c.AddHook(boundedBy(limit))
	return c, nil
}

// Embedded is an in-process Redis-compatible server (miniredis) and a
// client connected to it, for running Foyer without a Redis deployment.
// State lives in memory only and is lost on Close. Keys expire up to
// expireEvery late: the server's TTLs advance on a ticker, not on every
// command, because miniredis visits every key to expire any.
type Embedded struct {
	// Server is the server; tests may drive its TTLs with FastForward.
	Server *miniredis.Miniredis
	// Client is connected to Server.
	Client redis.UniversalClient

	stop chan struct{} // closed to stop the ticker that advances TTLs
	tick sync.Once     // closes stop
	once sync.Once     // closes the rest
}

// expireEvery is how often the embedded server's TTLs advance.
const expireEvery = 250 * time.Millisecond

// NewEmbedded starts an embedded server on a free loopback port.
func NewEmbedded() (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("redisstore: start the embedded server: %w", err)
	}
	e := &Embedded{
		Server: m,
		Client: embeddedClient(m.Addr()),
		stop:   make(chan struct{}),
	}
	go e.expire()
	return e, nil
}

// embeddedClient is the client of the embedded server at addr.
func embeddedClient(addr string) redis.UniversalClient {
	// The server is in-process: a failed dial or command is final, and
	// retrying it only delays the error.
	o := &redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1}
	timeouts(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout)
	c := redis.NewClient(o)
	c.AddHook(boundedBy(o.ReadTimeout))
	return c
}

func (e *Embedded) expire() {
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.Server.FastForward(now.Sub(last))
			last = now
		}
	}
}

// stopExpiry stops advancing the server's TTLs with real time, for tests
// that drive them with FastForward alone (a loaded machine cannot then
// expire a key in the middle of a step).
func (e *Embedded) stopExpiry() { e.tick.Do(func() { close(e.stop) }) }

// Close closes the client and the server.
func (e *Embedded) Close() error {
	e.once.Do(func() {
		e.stopExpiry()
		e.Client.Close()
		e.Server.Close()
	})
	return nil
}
