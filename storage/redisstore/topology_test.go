package redisstore

import (
	"os"
	"testing"
)

// The topologies besides one server, as .ci/redis-topologies.sh starts
// them (.ci/run exports both): a Sentinel URL with master_name=, and a
// Cluster URL. Each runs the conformance suite; TestRedis runs it on
// FOYER_TEST_REDIS_URL.
const (
	sentinelURLEnv = "FOYER_TEST_REDIS_SENTINEL_URL"
	clusterURLEnv  = "FOYER_TEST_REDIS_CLUSTER_URL"
)

// topologyURL returns the URL in the environment variable env. Without it
// the test is skipped, or fails when CI=true: CI starts every topology.
func topologyURL(t *testing.T, env string) string {
	t.Helper()
	url := os.Getenv(env)
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set (.ci/redis-topologies.sh starts the deployment)", env)
		}
		t.Skip(env + " is not set (see .ci/redis-topologies.sh)")
	}
	return url
}

func TestRedisSentinel(t *testing.T) {
	conformance(t, isolated(t, topologyURL(t, sentinelURLEnv)))
}

func TestRedisCluster(t *testing.T) {
	conformance(t, topologyURL(t, clusterURLEnv))
}
