// Package provider is Foyer's HTTP application: New wires the domain
// packages into one http.Handler with the one route table.
//
//	GET  /healthz                        liveness
//	GET  /readyz                         Redis reachable (503 otherwise, within 1 s)
//	GET  /static/*                       CSS for the pages
//	ANY  /{tenant}/v2.0/<protocol path>  OIDC endpoints (provider/oidcop)
//	ANY  /{tenant}/v2.0/<page>           sign-in and logout pages (provider/web)
//
// {tenant} is the tenant's GUID, name or a verified domain (provider/tenancy).
// Every request gets an X-Request-Id, a random GUID (the Graph-style API's
// request-id too), and one JSON log line (log/slog).
//
// Every request also gets a deadline, Config.RequestTimeout from its start
// (--request-timeout). Redis calls end with it (storage/redisstore), so a
// request whose Redis does not answer in time fails with
// storage.ErrUnavailable and each handler's one error path answers 503 with
// Retry-After, a whole response, shortly after the deadline; the protocol
// endpoints replace whatever zitadel wrote (provider/oidcop's
// FailureTracker). A handler that wrote nothing by its deadline is answered
// that 503 by the middleware.
package provider
