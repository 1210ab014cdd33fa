package main

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// aofServer is a redis-server the test started in the foreground, with
// every write fsynced to its append-only file before it is acknowledged.
type aofServer struct {
	t         *testing.T
	dir, port string
	cmd       *exec.Cmd
}

func (s *aofServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", s.port, "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", "redis.log")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + s.port})
	defer c.Close()
	waitFor(s.t, "redis-server on port "+s.port, func() bool { return c.Ping(s.t.Context()).Err() == nil })
}

// kill sends SIGKILL and waits for the process to end.
func (s *aofServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// TestKill9AppendOnly kills Redis (appendonly yes, appendfsync always) with
// SIGKILL while people sign up through the HTTP server, and restarts it on
// the same port and folder. A sign-up that got a 503 is abandoned, as a
// person would start over. Afterwards every sign-up that reached the app
// still signs in, its newest tokens still work, and no user is half
// created.
func TestKill9AppendOnly(t *testing.T) {
	needRedis(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	s := &aofServer{t: t, dir: t.TempDir(), port: port}
	s.start()
	t.Cleanup(s.kill)
	env := startEnv(t, func(c *Config) { c.RedisURL = "redis://127.0.0.1:" + port + "/0" }, retryingLoad)

	l := startLoad(env, loadWorkers, false)
	l.waitSignUps(t, loadWorkers)
	before := l.unavailable.Load()
	s.kill()
	// Down until the load has met the outage.
	deadline := time.Now().Add(time.Minute)
	for l.unavailable.Load() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s.start()
	l.waitSignUps(t, l.signUps()+2*loadWorkers)
	if l.unavailable.Load() == before {
		t.Error("no request met the outage")
	}
	l.check(t)
	checkUsersWhole(t, "127.0.0.1:"+port, env.a.id)
}

// checkUsersWhole checks that every user of the tenant is whole: each in
// the tenant's user set has its user and password keys and exactly one
// mail index key naming it, and every user and mail key belongs to a user
// in the set (see the key layout in storage/redisstore).
func checkUsersWhole(t *testing.T, addr, tenantID string) {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	prefix := "foyer:{t:" + tenantID + "}:"
	ids, err := c.SMembers(ctx, prefix+"users").Result()
	redisOK(t, err)
	inSet := map[string]bool{}
	for _, id := range ids {
		inSet[id] = true
	}
	mails := map[string]int{}
	mailKeys, err := c.Keys(ctx, prefix+"mail:*").Result()
	redisOK(t, err)
	for _, k := range mailKeys {
		id, err := c.Get(ctx, k).Result()
		redisOK(t, err)
		if !inSet[id] {
			t.Errorf("%s names %q, not in the tenant's users", k, id)
		}
		mails[id]++
	}
	userKeys, err := c.Keys(ctx, prefix+"user:*").Result()
	redisOK(t, err)
	for _, k := range userKeys {
		if !inSet[strings.TrimPrefix(k, prefix+"user:")] {
			t.Errorf("%s is not in the tenant's users", k)
		}
	}
	for _, id := range ids {
		n, err := c.Exists(ctx, prefix+"user:"+id, prefix+"password:"+id).Result()
		redisOK(t, err)
		if n != 2 || mails[id] != 1 {
			t.Errorf("user %s: %d of its user and password keys, %d mail keys; want 2 and 1", id, n, mails[id])
		}
	}
	if len(ids) < 2 {
		t.Errorf("the tenant has %d users, want the fixture's and the sign-ups", len(ids))
	}
	t.Logf("%d users whole", len(ids))
}
