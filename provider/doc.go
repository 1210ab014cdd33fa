// Package provider is Foyer's HTTP application: New wires the domain
// packages into one http.Handler with the one route table.
//
//	GET  /healthz                        liveness
//	GET  /readyz                         Redis reachable (503 otherwise)
//	GET  /static/*                       CSS for the pages
//	ANY  /{tenant}/v2.0/<protocol path>  OIDC endpoints (provider/oidcop)
//	ANY  /{tenant}/v2.0/<page>           sign-in and logout pages (provider/web)
//
// {tenant} is the tenant's GUID, name or a verified domain (provider/tenancy).
// Every request gets an X-Request-Id, a random GUID (the Graph-style API's
// request-id too), and one JSON log line (log/slog).
package provider
