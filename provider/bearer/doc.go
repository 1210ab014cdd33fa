// Package bearer mints and verifies Foyer's access tokens: JWTs of RFC 9068
// shape (header typ "at+jwt") for the Graph-style API.
//
// Claims: iss (the tenant issuer), sub and oid (the user), aud (the API's
// resource identifier, B/v1.0), exp, iat, nbf, jti, client_id and azp (the
// app), scp (space-separated scopes), tid (the tenant), auth_time, ver "2.0".
// The jti is "<grant id>.<random>", so a verifier learns the grant from the
// token alone and checks, in one Redis round trip, that the grant is alive
// and the token was not revoked (storage.Grants.TokenActive): a replayed code,
// a revoked refresh family, a password change or a revoked consent take
// effect at once. VerifyUser, for the Graph-style API, reads the token's
// user in that same round trip (storage.Grants.TokenUser).
//
// Tokens are signed with the tenant's ES256 key by default (RS256 when the
// tenant asks for it): an ES256 signature costs ~30 µs against ~780 µs for
// RS256 in Go, and the token endpoint's ceiling is set by the signature.
// Verification accepts only RS256 and ES256, only keys of the tenant's own
// published set (by kid; jku, jwk and x5u headers are never followed), only
// typ at+jwt (so an ID token is never accepted as a bearer token).
//
// A token whose signature checked out is remembered (the whole token is the
// key, up to 20,000 tokens per instance) so that presenting it again skips the
// signature: keys stay published until every token they signed expired, so
// the signature stays valid for the token's life. Claims (expiry, issuer,
// audience) and revocation are checked on every use.
package bearer
