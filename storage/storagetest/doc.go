// Package storagetest is the conformance suite every storage.Store backend
// must pass, whatever its topology: the embedded server, one Redis server,
// Sentinel or Cluster.
//
// A backend's test calls Run with a constructor, or RunHarness when it can
// also move its clock and take its backend down:
//
//	func TestConformance(t *testing.T) {
//		storagetest.RunHarness(t, func(t *testing.T) storagetest.Harness {
//			return storagetest.Harness{Store: newStore(t), Advance: fastForward}
//		})
//	}
//
// The subtests run in parallel, each on its own harness, and use fresh
// random IDs for tenants and objects, so harnesses may share one backend
// (one Redis database) without wiping it between subtests. The suite checks
// what the storage package documents: sentinel errors, expiry, tenant
// isolation, compare-and-swap without lost updates, single-use values with
// one winner, refresh-token replay revoking the grant, and
// storage.ErrUnavailable with storage.RecordFailure when the backend is
// down.
package storagetest
