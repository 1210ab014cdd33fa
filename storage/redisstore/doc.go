// Package redisstore implements storage.Store on Redis: one server,
// Sentinel, Redis Cluster, or the embedded in-process server Foyer starts
// when no URL is configured.
//
// # Connecting
//
// Open takes a URL in one of these forms:
//
//	redis://[user:pass@]host:port[/db][?options]             one server
//	rediss://...                                             the same over TLS
//	unix://[user:pass@]/path/to/redis.sock[?db=N]            one server, Unix socket
//	redis+sentinel://[user:pass@]host:port[/db]?master_name=NAME[&addr=host2:port2...]
//	redis+cluster://[user:pass@]host:port[?addr=host2:port2...]
//
// rediss+sentinel:// and rediss+cluster:// use TLS. For Sentinel the user
// and password in the URL authenticate to the sentinels; username= and
// password= options authenticate to the master. Options are go-redis's
// (redis.ParseURL, redis.ParseFailoverURL, redis.ParseClusterURL).
// The store needs Redis 7.0 or later (or a compatible server such as
// Valkey).
//
// NewEmbedded starts the in-process server instead: miniredis, on a
// loopback port. Its state is lost on exit and its keys expire up to a
// quarter of a second late.
//
// # Key layout
//
// Every key starts with foyer:. Tenant-scoped keys carry the tenant as a
// Cluster hash tag, {t:<tenant ID>}, so that all of one tenant's keys live
// in one slot and every multi-key operation on them (Lua scripts,
// MULTI/EXEC, DEL of several keys) works on Cluster. Values are JSON unless
// noted.
//
//	key                                        value                                  expires
//	foyer:{g}:tenant-names                     hash: tenant name -> tenant ID         never
//	foyer:{g}:domains                          hash: verified domain -> tenant ID     never
//	foyer:{g}:clients                          hash: client ID -> tenant ID           never
//	foyer:{t:T}:tenant                         storage.Tenant                         never
//	foyer:{t:T}:domains                        set of the tenant's domains            never
//	foyer:{t:T}:apps                           set of client IDs                      never
//	foyer:{t:T}:app:<client ID>                storage.App                            never
//	foyer:{t:T}:users                          set of user IDs                        never
//	foyer:{t:T}:user:<user ID>                 storage.User                           never
//	foyer:{t:T}:password:<user ID>             encoded password hash (string)         never
//	foyer:{t:T}:mail:<mail>                    user ID                                never
//	foyer:{t:T}:upn:<lower-case UPN>           user ID                                never
//	foyer:{t:T}:keys                           []storage.SigningKey                   never
//	foyer:{t:T}:authreq:<ID>                   storage.AuthRequest                    the ttl given
//	foyer:{t:T}:once:<kind>:<ID>               "0"+value; once taken "2"+op+at+value  ttl, then keep
//	foyer:{t:T}:flow:<ID>                      storage.Flow                           the ttl given
//	foyer:{t:T}:grant:<grant ID>               storage.Grant                          ExpiresAt
//	foyer:{t:T}:grant-ended:<grant ID>         "1": revoked, never created again      an hour
//	foyer:{t:T}:user-grants:<user ID>          sorted set: grant ID by expiry (ms)    latest grant
//	foyer:{t:T}:refresh:<hash>                 hash: token (JSON), grant, used (0|1); ExpiresAt
//	                                           once rotated op, next, at, sealed
//	foyer:{t:T}:revoked:<jti>                  "1"                                    the until given
//	foyer:{t:T}:session:<hash>                 storage.Session                        ExpiresAt
//	foyer:{t:T}:user-sessions:<user ID>        sorted set: hash by expiry (ms)        latest session
//	foyer:{t:T}:counter:<key>                  integer                                window from first hit
//	foyer:{t:T}:audit                          stream: field e = storage.AuditEvent   never; trimmed to ~AuditMaxLen
//	foyer:{t:T}:consent:<user ID>:<client ID>  storage.Consent                        never
//	foyer:{t:T}:user-consents:<user ID>        set of client IDs                      never
//	foyer:{t:T}:op:<operation ID>              answer of a one-shot script            2 minutes
//	foyer:{g}:op:<operation ID>                answer of a global claim               2 minutes
//
// The foyer:{g} keys are the global unique indexes. Cluster cannot run one
// transaction across the global slot and a tenant's slot, so a create that
// takes a globally unique name (tenant name, domain, client ID) first claims
// it with HSETNX on the global hash, then writes the tenant's keys, and
// releases the claim if that write fails. Everything inside one tenant is
// atomic: compare-and-swap updates, unique mail and UPN claims, single-use
// values, refresh-token rotation and counters are each one Lua script.
//
// A consent is created with SET NX together with its entry in the user's
// index (MULTI/EXEC), merged into with compare-and-swap, and deleted with
// its index entry by one Lua script, so the index names exactly the
// consents that exist. The audit log is a stream whose entry IDs are the
// events' IDs; each append trims it to about Config.AuditMaxLen entries.
//
// Users, apps, tenants, consents and audit logs never expire: production
// Redis needs appendonly yes and maxmemory-policy noeviction.
//
// # Every state change is safe to retry
//
// go-redis resends a command whose reply did not come (a read timeout, a
// dropped connection: by default 3 times), although the command may have
// run. Each state change below is idempotent under such a resend: run
// again it answers what its first run answered and changes nothing more,
// while a different call (a real replay, a second sign-up for an address)
// still gets ErrExists, ErrConsumed or a replay's revocation. None is kept
// from being resent: reads and writes alike keep go-redis's retries.
//
// A store call gets an operation ID, 128 random bits (or derived from
// storage.WithOperation's, with which tests repeat a call), passed as a
// script argument, so every resend carries it. A one-shot script that
// changed something records its answer under foyer:{..}:op:<ID> for two
// minutes (opKeep: far longer than go-redis's retry budget) in the slot of
// the keys it changed, and a run that finds the record answers from it.
// Token rotation and code consumption keep the ID in the record they
// change instead, at no extra write.
//
//	operation                          verbs                               how a resend is recognised
//	code (and any single-use) take     TakeOnce                            op ID in the tombstone; another take gets *TakenError with the time taken
//	refresh-token rotation             RotateRefreshToken                  op ID in the old token's hash; the same successor within Rotation.Reuse while unused (the client's retry) also succeeds,
//	                                                                       another one then gets ErrConflict and changes nothing (a concurrent duplicate)
//	refresh-token save                 SaveRefreshToken                    by nature: stores only if absent, never resets a used token
//	user creation                      CreateUser                          op record (createUser)
//	flow, auth request, single-use     CreateFlow, SaveAuthRequest,        op record (createNX)
//	value creation                     PutOnce
//	tenant and app creation; claims    CreateTenant, CreateApp, AddDomain  op record in the global slot for the claim (claimField), and one
//	on the global indexes                                                  in the tenant's slot for the value (createNX)
//	grant and session creation         CreateGrant, CreateSession          op record (putIndexed)
//	compare-and-swap updates           UpdateTenant (policy), UpdateApp,   op record per attempt (casScript); a resend answers with the value
//	                                   UpdateUser, UpdateAuthRequest,      now stored, so fn is never applied twice (a flow's attempt counter
//	                                   UpdateFlow, UpdateSigningKeys       counts once, a sign-up step advances once)
//	                                   (key rotation), consent merge
//	consent creation                   PutConsent                          by nature: a resent SET NX finds the consent and merges the same scopes
//	consent deletion                   DeleteConsent                       op record holding the deleted consent
//	counters                           Hit, Unhit                          op record holding the count
//	audit log                          AppendAudit                         op record holding the entry ID
//	password, revocations, deletes     SetPasswordHash, RevokeGrant,       by nature: setting or deleting twice is doing it once
//	                                   RevokeUserGrants, RevokeAccessToken,
//	                                   Delete*, ResetCounter
//
// The records cost no round trip: each is written by the script that does
// the work. A refresh is two round trips as before (getRefresh, rotate);
// a code exchange one fewer than before, since the code's record carries
// its completed request.
//
// A resend is the client library's retry within one store call. When the
// call itself fails (every attempt late, or the request's deadline spent)
// the request answers 503 although the work may be done, and the client
// retries the whole request with a new operation ID. That retry is for the
// callers to recognise: package oidcop gives the same refresh token back
// to a repeated refresh or code exchange (Rotation, Grant.SealedRefresh,
// TakenError), and package signup finds the account of a repeated
// completion by the ID its flow chose.
//
// # Conventions
//
// The tenant ID argument is authoritative: create methods store it in the
// entity's TenantID field. Absolute expiry times (ExpiresAt, until) are
// turned into TTLs with Config.Clock; an expiry in the past stores an object
// that expires at once. A missing key is storage.ErrNotFound; every other
// failure of the client wraps storage.ErrUnavailable and marks the request's
// storage.FailureTracker.
//
// # Deadlines
//
// Clients from Open and NewEmbedded honour their callers' contexts
// (go-redis ContextTimeoutEnabled): a socket read or write, a wait for a
// pooled connection and a retry's backoff all end with the context's
// deadline, so a frozen or partitioned Redis fails a call by its request's
// deadline (see provider, --request-timeout) with storage.ErrUnavailable
// instead of holding the request. Where the URL sets none, the dial, read,
// write and pool timeouts are 2 s: they bound what has no deadline, and
// detect a dead connection early enough for a read to be retried on a fresh
// one within a request. A call whose context has no deadline (start-up, or
// clean-up detached from its request with context.WithoutCancel) is given
// one of the read timeout, all retries included (the bounded hook).
//
// A batched TokenUser (below) runs under the latest deadline of its
// callers; a caller whose own deadline passes first leaves with its
// context's error.
//
// # Failures and logs
//
// Each failed store call writes one error line naming the Store method
// ("verb"), whether it was a timeout, and the error: once per call, after
// go-redis's own retries, never per retry. SetLogger directs these lines,
// and go-redis's own (redis.SetLogger), to a slog.Logger; foyer serve sends
// both to its JSON log. Store.PoolStats returns the client's connection
// counts (open, idle, waiting), which tests use to show that no connection
// outlives a fault.
//
// # The per-request read
//
// TokenUser, which every request of the Graph-style API makes, is one MGET
// of the grant, the token's revocation mark and the user (one hash slot).
// Concurrent TokenUser calls share round trips: the first caller leads a
// batch, yields the processor once so that callers already runnable join
// it, and sends the batch as one pipeline (mgetBatcher). A caller alone
// sends at once. On one core serving 64 connections this took GET /v1.0/me
// from 24k to 35k requests per second; go-redis's own autopipelining
// (Client.AutoPipeline, v9.23) was measured on the same load and lowered
// it, to 12–15k, so it is not used. The user's JSON is decoded once per
// distinct value (userMemo): the bytes are read from Redis every time, so
// an update shows at once.
package redisstore
