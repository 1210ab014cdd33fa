package keys

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage/redisstore"
)

// newStore returns the Redis backend on a fresh in-process miniredis, so
// the compare-and-swap the tests race on is the production one.
func newStore(t testing.TB) Store {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	return redisstore.New(client, redisstore.Config{})
}
