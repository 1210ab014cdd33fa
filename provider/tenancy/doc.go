// Package tenancy resolves the {tenant} segment of a URL path to a tenant
// and carries the tenant through the request context.
//
// A path may name a tenant by its GUID, its unique name, or one of its
// verified domains; issuers and everything derived from them always use the
// GUID (DESIGN.md section 3). Resolutions are cached per instance for a
// short TTL (Config.CacheTTL, default 1 s) because every OIDC request
// resolves its tenant; code that decides policy (sign-up, admin changes)
// re-reads the tenant from the store rather than trusting the cache.
package tenancy
