package provision

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage/redisstore"
)

// redisFixture runs the provisioner on storage/redisstore over miniredis;
// its dump is every key, type, TTL and value.
func redisFixture(t *testing.T) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	dump := func() string {
		var b strings.Builder
		for _, k := range mr.Keys() {
			typ := mr.Type(k)
			fmt.Fprintf(&b, "%s (%s, ttl %v):", k, typ, mr.TTL(k))
			switch typ {
			case "string":
				v, _ := mr.Get(k)
				fmt.Fprintf(&b, " %q", v)
			case "hash":
				fields, _ := mr.HKeys(k)
				slices.Sort(fields)
				for _, f := range fields {
					fmt.Fprintf(&b, " %q=%q", f, mr.HGet(k, f))
				}
			case "set":
				ms, _ := mr.Members(k)
				slices.Sort(ms)
				fmt.Fprintf(&b, " %q", ms)
			case "zset":
				ms, _ := mr.ZMembers(k)
				for _, m := range ms {
					s, _ := mr.ZScore(k, m)
					fmt.Fprintf(&b, " %q:%v", m, s)
				}
			case "list":
				l, _ := mr.List(k)
				fmt.Fprintf(&b, " %q", l)
			default:
				t.Fatalf("dump: key %s has type %s", k, typ)
			}
			b.WriteByte('\n')
		}
		return b.String()
	}
	return newFixture(t, redisstore.New(client, redisstore.Config{}), dump)
}

func TestRedisApplyIdempotent(t *testing.T) { testApplyIdempotent(t, redisFixture(t)) }

func TestRedisDev(t *testing.T) { testDev(t, redisFixture(t)) }
