package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

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
		c   redis.UniversalClient
		err error
	)
	switch topology {
	case "":
		var o *redis.Options
		if o, err = redis.ParseURL(rawURL); err == nil {
			c = redis.NewClient(o)
		}
	case "sentinel":
		var o *redis.FailoverOptions
		if o, err = redis.ParseFailoverURL(plain); err == nil {
			if o.MasterName == "" {
				return nil, errors.New("redisstore: a Sentinel URL needs master_name=")
			}
			c = redis.NewFailoverClient(o)
		}
	case "cluster":
		var o *redis.ClusterOptions
		if o, err = redis.ParseClusterURL(plain); err == nil {
			c = redis.NewClusterClient(o)
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
	return c, nil
}

// NewEmbedded starts an in-process Redis-compatible server (miniredis) on a
// free loopback port and returns it with a client. Its TTLs follow the
// server's clock (the wall clock unless set with SetTime). State lives in
// memory only and is lost when the server closes. The caller closes the
// client and then the server.
func NewEmbedded() (*miniredis.Miniredis, redis.UniversalClient, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		return nil, nil, fmt.Errorf("redisstore: start the embedded server: %w", err)
	}
	// Retrying a refused dial to an in-process server only delays the error.
	return m, redis.NewClient(&redis.Options{Addr: m.Addr(), DialerRetries: 1}), nil
}
