// Package oidcop is the OpenID Connect protocol layer: it adapts Foyer's
// storage, keys and tenants to zitadel/oidc's op.Provider and serves the
// protocol endpoints of every tenant from one provider.
//
// # Tenants and issuers
//
// The HTTP layer resolves /{tenant}/v2.0/... to a tenant and puts it in the
// context (package tenancy); the provider's issuer function reads it back,
// so the issuer is always B/{tenantId}/v2.0 whatever alias the path used.
// Every storage call takes the tenant from the context explicitly.
//
// # What Foyer enforces before zitadel sees a request
//
// zitadel/oidc unescapes redirect URIs before matching them, silently drops
// scopes a client may not request, and reads client credentials from the
// query string. The guards in this package run first and refuse, as the
// standards and DESIGN.md ask:
//   - redirect_uri must equal a registered URI byte for byte; otherwise an
//     error page, never a redirect;
//   - response_type must be "code"; PKCE with S256 is required for every
//     client ("plain" and a missing challenge are refused at the
//     authorization request, not only at the token step);
//   - a scope the app may not request gives invalid_scope;
//   - request and request_uri give request_not_supported and
//     request_uri_not_supported at the validated redirect URI;
//   - token, introspection and revocation requests must be POST bodies of
//     at most 64 KiB with no query string but MSAL's telemetry, from a client that is known and
//     authenticated before any code or token is looked at (otherwise
//     invalid_client, whatever the grant type).
//
// # Answers
//
// Every answer is buffered, then conform (endpoints.go) gives it the shape
// its kind of endpoint requires, whoever wrote it (a guard, zitadel or the
// storage callbacks); no endpoint has special cases of its own:
//   - token, introspection, revocation (RFC 6749 §5, RFC 7662): no-store
//     and Pragma: no-cache on every answer, errors as JSON, a 401 is
//     invalid_client with a Basic challenge when the client used Basic,
//     and a server error never shows internal text;
//   - userinfo (RFC 6750 §3): 401 with a Bearer challenge carrying
//     invalid_token, or no error code when no token was sent, 403
//     insufficient_scope for a token without openid;
//   - authorization, its callback and end-session, where a browser
//     navigates: no CORS, and an error that cannot go back to the app is
//     the templates' error page with the request ID.
//
// # Microsoft's clients (DESIGN.md section 8)
//
// MSAL works unchanged (msal.go, scope.go): the back channel admits MSAL's
// client-request-id and telemetry parameters in the query and echoes
// client-request-id; response_mode=fragment is served (zitadel escapes
// the fragment twice, so fixFragment repairs its Location); client_info=1
// adds client_info ({"uid": oid, "utid": tid}) to token responses;
// normalizeScopes, used by the authorization and token endpoints, makes
// resource-qualified scopes ("https://graph.microsoft.com/User.Read",
// "B/v1.0/User.Read", "<resource>/.default") bare; RP-initiated logout
// without client_id returns to a post_logout_redirect_uri only when an app
// of the tenant registered it exactly.
//
// # Tokens
//
// Access tokens are at+jwt JWTs (package bearer), ES256 by default. zitadel
// signs its own JWT access tokens with typ "JWT" and the ID-token key, so
// Foyer mints them in CreateAccessToken and hands them through zitadel's
// Crypto hook (tokenCodec): the "token ID" zitadel passes to Encrypt is the
// signed token itself. Decrypt only reads "jti:sub" from a token the
// handler has already verified (bearer.Tokens.Verify) before zitadel ran;
// the storage callbacks act only on those verified claims. Authorization codes are 256-bit random values
// stored as SHA-256; a code is consumed atomically and a replay revokes the
// grant it issued. Refresh tokens are rotated on every use and a replayed
// one revokes its whole grant (family). ID tokens are RS256 unless the app
// registered ES256.
//
// # Failure
//
// When Redis fails during a request, the response is 503 with Retry-After,
// whatever zitadel would have written: responses of the protocol endpoints
// are buffered and replaced when the request's storage.FailureTracker fired.
//
// # A client repeating a token request
//
// A 503 (or a lost response) does not mean nothing happened: the code may
// be taken, the refresh token rotated, when the store's answer came too
// late. The client's retry of the same request must then not be taken for
// a replay, or the legitimate client would lose its grant. Within
// Config.RetryWindow (30 s by default) and while the refresh token issued
// is unused, the same request answers with the same refresh token and new
// access and ID tokens for the same grant:
//   - refresh: the rotation records the successor sealed (AES-256-GCM)
//     under a key derived from the old token (HMAC-SHA256), which only its
//     holder can derive; the same old token presented again unseals it and
//     repeats the rotation, which the store accepts only for that
//     successor, within the window, while it is unused and the grant live
//     (a duplicate that read the token before the first request rotated
//     it is told so by the store, and repeats that rotation too);
//   - code exchange: the grant records its first refresh token sealed under
//     a key derived from the code; the code presented again with the PKCE
//     verifier of its request, within the window of the take, gets that
//     token back (stored now if the first attempt failed before), unless
//     it was used.
//
// Any other second use is a replay, as before: an old refresh token after
// the window or after its successor was used revokes the grant; a code
// presented again without its verifier, after the window or after its
// refresh token was used, revokes the grant and marks the code so that no
// later retry issues anything. Rotation and reuse detection are as RFC 6819
// (section 5.2.2.3) and the OAuth 2.0 Security BCP (RFC 9700, section
// 4.14.2) describe them; the window is the refresh-token reuse interval of
// Okta ("grace period for token rotation") and Auth0 ("reuse interval").
// It is short, and a thief presenting the old token within it gets only
// the successor the client was already due, while the client's next use
// of either token reveals the reuse and revokes the family. Nothing is
// stored in plain text: the store holds hashes and sealed values whose
// keys come from secrets it never sees.
package oidcop
