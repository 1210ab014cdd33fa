// Package storage defines Foyer's entities, the small store interfaces the
// domain packages depend on, and the sentinel errors every backend returns.
//
// It imports nothing of Foyer's. storage/redisstore implements the
// interfaces on Redis (one server, Sentinel, Cluster, or the embedded
// in-process server); storage/storagetest is the conformance suite every
// backend must pass.
//
// Every method takes the context first and, for tenant-scoped state, the
// tenant ID second: a backend never infers the tenant. Two tenants may use
// the same IDs for their objects without collision.
//
// Updates are compare-and-swap: Update* methods take an updater func that
// receives the current value and returns the new one (or an error, which
// aborts the update). Backends retry the func a bounded number of times on
// contention and return ErrConflict when the bound is reached.
//
// Single-use things (authorization codes, refresh tokens, email codes) are
// consumed by one atomic verb that either wins or reports ErrConsumed; two
// parallel consumers never both win.
package storage
