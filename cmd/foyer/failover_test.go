package main

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The failover tests run Foyer on a Sentinel or Cluster deployment of
// their own (startTopology), run the load (load_test.go) through the HTTP
// server, move the master while it runs, and check that the service
// recovers without a restart, that no request got a wrong answer (a 503
// with Retry-After is allowed; the load sends the same request again and
// that must succeed) and that every acknowledged sign-up, code exchange and
// refresh is still there afterwards.
//
// The failovers are the coordinated kind, which lose no acknowledged
// write: CLUSTER FAILOVER (the master stops its clients until the replica
// has its whole replication stream, as the Cluster specification
// documents), and for Sentinel the same steps around SENTINEL FAILOVER,
// which alone promotes the replica while the old master still accepts
// writes until it is reconfigured (a window Redis documents as lost).

// loadWorkers is the number of concurrent flows: a small load.
const loadWorkers = 2

// waitFor polls cond every 50 ms for up to a minute, failing t with what
// otherwise.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// infoField returns one field of c's INFO section.
func infoField(ctx context.Context, c *redis.Client, section, field string) string {
	info, err := c.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

func infoInt(ctx context.Context, c *redis.Client, field string) int64 {
	n, err := strconv.ParseInt(infoField(ctx, c, "replication", field), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// urlAddrs returns the host and the addr= options of a Sentinel or Cluster
// URL.
func urlAddrs(t *testing.T, raw string) (*url.URL, []string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u, append([]string{u.Host}, u.Query()["addr"]...)
}

// runDuringLoad runs the load, moves the master with move while it runs,
// lets every worker finish a few flows afterwards, and checks the load.
func runDuringLoad(t *testing.T, env *testEnv, move func()) {
	l := startLoad(env, loadWorkers, true)
	l.waitSignUps(t, loadWorkers)
	move()
	l.waitSignUps(t, l.signUps()+2*loadWorkers)
	l.check(t)
}

func TestSentinelFailover(t *testing.T) {
	raw := startTopology(t, "sentinel")
	env := startEnv(t, func(c *Config) { c.RedisURL = raw }, retryingLoad)
	runDuringLoad(t, env, func() { sentinelFailover(t, raw) })
}

// sentinelFailover moves the master of the Sentinel deployment at raw to
// its replica without losing a write: it pauses writes on the master,
// waits until the replica has all of them, has a sentinel fail over, turns
// the old master into a replica of the new one and drops its clients (as
// Sentinel itself does when it reconfigures an instance), then lets the
// paused writes go on, which now fail as READONLY or on the dropped
// connection and are retried on the new master.
func sentinelFailover(t *testing.T, raw string) {
	ctx := t.Context()
	u, sentinels := urlAddrs(t, raw)
	name := u.Query().Get("master_name")
	master := func(addr string) string {
		s := redis.NewSentinelClient(&redis.Options{Addr: addr})
		defer s.Close()
		hp, err := s.GetMasterAddrByName(ctx, name).Result()
		if err != nil || len(hp) != 2 {
			return ""
		}
		return net.JoinHostPort(hp[0], hp[1])
	}
	s := redis.NewSentinelClient(&redis.Options{Addr: sentinels[0]})
	defer s.Close()
	oldAddr := master(sentinels[0])
	replicas, err := s.Replicas(ctx, name).Result()
	if err != nil || len(replicas) != 1 || oldAddr == "" {
		t.Fatalf("master %q, replicas %v, %v; want one of each", oldAddr, replicas, err)
	}
	newAddr := net.JoinHostPort(replicas[0]["ip"], replicas[0]["port"])
	old := redis.NewClient(&redis.Options{Addr: oldAddr})
	defer old.Close()
	promoted := redis.NewClient(&redis.Options{Addr: newAddr})
	defer promoted.Close()

	redisOK(t, old.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err())
	defer old.Do(context.Background(), "CLIENT", "UNPAUSE")
	want := infoInt(ctx, old, "master_repl_offset")
	waitFor(t, "the replica to catch up", func() bool { return infoInt(ctx, promoted, "slave_repl_offset") >= want })
	waitFor(t, "SENTINEL FAILOVER to be accepted", func() bool {
		// -NOGOODSLAVE or -INPROG until the sentinel's view is fresh.
		return s.Failover(ctx, name).Err() == nil
	})
	for _, addr := range sentinels {
		waitFor(t, "sentinel "+addr+" to name the new master", func() bool { return master(addr) == newAddr })
	}
	waitFor(t, "the promoted replica to be master", func() bool { return infoField(ctx, promoted, "replication", "role") == "master" })
	host, port, _ := net.SplitHostPort(newAddr)
	redisOK(t, old.Do(ctx, "REPLICAOF", host, port).Err())
	redisOK(t, old.Do(ctx, "CLIENT", "KILL", "TYPE", "normal").Err())
	redisOK(t, old.Do(ctx, "CLIENT", "UNPAUSE").Err())
	waitFor(t, "the old master to replicate the new one", func() bool {
		return infoField(ctx, old, "replication", "master_link_status") == "up"
	})
	t.Logf("Sentinel failover: master %s -> %s", oldAddr, newAddr)
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string // master: the master's ID for a replica, else "-"
	isMaster         bool
	slots            []string
}

func clusterNodes(ctx context.Context, c *redis.Client) ([]clusterNode, error) {
	out, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var nodes []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, errors.New("malformed CLUSTER NODES line: " + line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		nodes = append(nodes, clusterNode{id: f[0], addr: addr, master: f[3],
			isMaster: strings.Contains(f[2], "master"), slots: f[8:]})
	}
	return nodes, nil
}

// owns reports whether n serves slot (a range or a single slot; a slot
// being migrated, [slot->-id] or [slot-<-id], is not counted).
func (n clusterNode) owns(slot int64) bool {
	for _, r := range n.slots {
		if strings.HasPrefix(r, "[") {
			continue
		}
		lo, hi, ok := strings.Cut(r, "-")
		if !ok {
			hi = lo
		}
		a, _ := strconv.ParseInt(lo, 10, 64)
		b, _ := strconv.ParseInt(hi, 10, 64)
		if a <= slot && slot <= b {
			return true
		}
	}
	return false
}

// cluster is a test's handle on the nodes of a Cluster deployment.
type cluster struct {
	t     *testing.T
	nodes map[string]*redis.Client // by address
}

func openCluster(t *testing.T, raw string) *cluster {
	_, addrs := urlAddrs(t, raw)
	c := &cluster{t: t, nodes: map[string]*redis.Client{}}
	for _, a := range addrs {
		n := redis.NewClient(&redis.Options{Addr: a})
		t.Cleanup(func() { n.Close() })
		c.nodes[a] = n
	}
	return c
}

// view returns what the node at addr knows of the cluster.
func (c *cluster) view(addr string) []clusterNode {
	nodes, err := clusterNodes(c.t.Context(), c.nodes[addr])
	if err != nil {
		c.t.Fatal(err)
	}
	return nodes
}

// tenantSlot returns the hash slot of tenant's keys, its master and the
// master's replica, as the first node sees them.
func (c *cluster) tenantSlot(tenantID string) (slot int64, master, replica clusterNode) {
	ctx := c.t.Context()
	var any *redis.Client
	for _, n := range c.nodes {
		any = n
		break
	}
	slot, err := any.ClusterKeySlot(ctx, "foyer:{t:"+tenantID+"}:tenant").Result()
	redisOK(c.t, err)
	nodes := c.view(any.Options().Addr)
	for _, n := range nodes {
		if n.isMaster && n.owns(slot) {
			master = n
		}
	}
	for _, n := range nodes {
		if !n.isMaster && n.master == master.id {
			replica = n
		}
	}
	if master.id == "" || replica.id == "" {
		c.t.Fatalf("slot %d: master %+v, replica %+v", slot, master, replica)
	}
	return slot, master, replica
}

// settled reports whether every node sees the cluster as ok, with slot
// served by the master whose ID is owner, and every replica in sync.
func (c *cluster) settled(slot int64, owner string) bool {
	ctx := c.t.Context()
	for addr, n := range c.nodes {
		info, err := n.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
		nodes, err := clusterNodes(ctx, n)
		if err != nil {
			return false
		}
		for _, v := range nodes {
			if v.owns(slot) != (v.id == owner) || (v.id == owner && !v.isMaster) {
				return false
			}
			if v.addr == addr && !v.isMaster && infoField(ctx, n, "replication", "master_link_status") != "up" {
				return false
			}
		}
	}
	return true
}

func TestClusterFailover(t *testing.T) {
	raw := startTopology(t, "cluster")
	env := startEnv(t, func(c *Config) { c.RedisURL = raw }, retryingLoad)
	c := openCluster(t, raw)
	runDuringLoad(t, env, func() {
		// The failover of the master that holds tenant a's keys.
		slot, master, replica := c.tenantSlot(env.a.id)
		redisOK(t, c.nodes[replica.addr].Do(t.Context(), "CLUSTER", "FAILOVER").Err())
		waitFor(t, "the replica to take slot "+strconv.FormatInt(slot, 10), func() bool { return c.settled(slot, replica.id) })
		t.Logf("Cluster failover of slot %d: master %s -> %s", slot, master.addr, replica.addr)
	})
}

// TestClusterReshard moves the slot of tenant a's keys to another master
// while the load runs, a few keys at a time with MIGRATE, so that the
// load meets ASK redirections (and TRYAGAIN for scripts whose keys are
// split) during the move and MOVED after it.
func TestClusterReshard(t *testing.T) {
	raw := startTopology(t, "cluster")
	env := startEnv(t, func(c *Config) { c.RedisURL = raw }, retryingLoad)
	c := openCluster(t, raw)
	runDuringLoad(t, env, func() {
		ctx := t.Context()
		slot, src, _ := c.tenantSlot(env.a.id)
		var dst clusterNode
		var masters []clusterNode
		for _, n := range c.view(src.addr) {
			// A master serves slots: a node without any may be a replica
			// whose role has not reached this node's view yet.
			if n.isMaster && len(n.slots) > 0 {
				masters = append(masters, n)
				if n.id != src.id && dst.id == "" {
					dst = n
				}
			}
		}
		from, to := c.nodes[src.addr], c.nodes[dst.addr]
		s := strconv.FormatInt(slot, 10)
		redisOK(t, to.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", src.id).Err())
		redisOK(t, from.Do(ctx, "CLUSTER", "SETSLOT", s, "MIGRATING", dst.id).Err())
		host, port, _ := net.SplitHostPort(dst.addr)
		moved := 0
		for {
			keys, err := from.ClusterGetKeysInSlot(ctx, int(slot), 5).Result()
			redisOK(t, err)
			if len(keys) == 0 {
				break
			}
			args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
			for _, k := range keys {
				args = append(args, k)
			}
			if err := from.Do(ctx, args...).Err(); err != nil && !strings.HasPrefix(err.Error(), "NOKEY") {
				t.Fatalf("MIGRATE: %v", err)
			}
			moved += len(keys)
			time.Sleep(100 * time.Millisecond) // the load runs on the split slot
		}
		// The new owner first, as redis-cli --cluster does.
		redisOK(t, to.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", dst.id).Err())
		redisOK(t, from.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", dst.id).Err())
		for _, m := range masters {
			if m.id != src.id && m.id != dst.id {
				redisOK(t, c.nodes[m.addr].Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", dst.id).Err())
			}
		}
		waitFor(t, "every node to see slot "+s+" on "+dst.addr, func() bool { return c.settled(slot, dst.id) })
		t.Logf("resharding: slot %d (%d keys) from %s to %s", slot, moved, src.addr, dst.addr)
	})
}

// redisOK fails t on an error of an administrative Redis command.
func redisOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
