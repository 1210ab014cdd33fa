// Package graph serves Foyer's Graph-style API under B/v1.0 (DESIGN.md
// section 5): the signed-in user's profile, password and consents, and the
// admin operations of a tenant's Global Administrators (users, role
// assignments, the authorization policy, the audit log). Field names,
// resource shapes and the error envelope are Microsoft Graph's.
//
// # Authentication
//
// Every request carries an access token in the Authorization header (Bearer;
// never in the query string). The token's payload is read unverified only
// to learn its tid claim; the tenant is resolved from it and
// bearer.Tokens.VerifyUser then checks the signature with that tenant's keys,
// issuer, audience, typ at+jwt and lifetime, and in one Redis round trip
// both revocation and the user (so every request sees the profile as
// stored, and a revocation at once). A token that fails,
// a user that no longer exists or whose account is disabled get 401 with
// WWW-Authenticate: Bearer error="invalid_token". A store that cannot be
// reached gives 503 with Retry-After (fault.Status).
//
// # Authorization
//
// What a caller may do depends on who the target is, the caller's directory
// role and the token's scopes, decided in that order:
//
//   - their own object (/me, or /users/{id} with their own id or
//     userPrincipalName): read with User.Read or User.ReadWrite, update the
//     ten properties of seed 003 with User.ReadWrite, change the password
//     with Directory.AccessAsUser.All, list and revoke their consents;
//   - another user: a Global Administrator with User.ReadWrite.All reads and
//     updates any user; in a workforce tenant whose policy has
//     defaultUserRolePermissions.allowedToReadOtherUsers, a member reads
//     other users' basic profiles (id, displayName, givenName, surname, mail,
//     userPrincipalName) with User.Read. Everyone else gets 403
//     Authorization_RequestDenied, and a user that does not exist gets the
//     very same answer without being looked up, so the API cannot be used
//     to learn which IDs or names exist;
//   - admin operations need the role, then the operation's scope: the
//     directory's users (User.ReadWrite.All), role assignments
//     (Directory.AccessAsUser.All), the authorization policy (Policy.Read.All
//     or Policy.ReadWrite.Authorization to read, the latter to update), the
//     audit log (AuditLog.Read.All or Policy.Read.All).
//
// A caller without the role gets 403 Authorization_RequestDenied; one with
// the role but not the scope gets 403 with WWW-Authenticate: Bearer
// error="insufficient_scope", scope="…". In external tenants, a role held by
// an external user (a customer without a userPrincipalName identity) is
// ignored, and assigning one is refused.
//
// # Request bodies
//
// Bodies are JSON objects of at most 64 KiB (413 before any parsing) with
// Content-Type application/json (charset utf-8 and OData's format
// parameters, odata.metadata, odata.streaming, IEEE754Compatible, allowed;
// otherwise 415). A body may be gzip-compressed (Content-Encoding: gzip,
// as the Microsoft Graph SDKs send every body): the limit applies to what
// it decodes to, and inflating stops one byte past it, so a gzip bomb gets
// 413 for the price of 64 KiB; any other coding gets 415 with
// Accept-Encoding: gzip, on which the SDKs retry uncompressed.
// Bodies are decoded strictly, token by token: property names must match
// exactly (encoding/json would match case-insensitively), appear once, and
// be settable by the operation; values must have the property's type;
// nothing may follow the object. OData annotations are not properties:
// "@odata.type" must name the body's type (the SDKs send
// "#microsoft.graph.user" in a user PATCH), null standing for none;
// @odata.context, @odata.id and @odata.etag are ignored; others are
// refused. The first problem gives 400 naming the property, and nothing
// is written: every value is validated before the one compare-and-swap
// update.
//
// # Microsoft Graph's conventions
//
// Every answer carries request-id (the router's request ID, a GUID) and
// client-request-id (the client's, echoed, or the request-id when it sent
// none); the error envelope's innerError has both. A path the API serves,
// asked with another method, gets 405 with Allow (read from the route
// table). Users have Graph's default /me properties: businessPhones (an
// empty array), mobilePhone and officeLocation (null) too, which Foyer
// does not keep and nobody can set. One consent grant is read at GET
// /me/oauth2PermissionGrants/{id} or /oauth2PermissionGrants/{id} and
// revoked at DELETE /me/oauth2PermissionGrants/{id} or
// /oauth2PermissionGrants/{id} (the SDKs' typed requests): always the
// caller's own, another user's being as unknown as a missing one.
//
// # Changes
//
// The policy is changed through provider/policy, the one place that changes
// it (for the CLI too), so PATCH /policies/authorizationPolicy sets what
// policy.Change carries; the other defaultUserRolePermissions are read-only
// here. Every change is recorded in the tenant's audit log with the caller
// as actor and the request ID as correlationId: policyUpdated (each changed
// field, "old -> new"), userUpdated (the names of the changed properties,
// not their values, except accountEnabled), userCreated, roleAssigned,
// consentRevoked, passwordChanged (refusals too, with their reason code).
//
// Disabling a user, changing a password and revoking a consent end tokens
// at once by revoking grants (storage.Grants), which every access-token
// check consults: a disabled user's grants and sessions all go; a password
// change keeps only the calling token's grant; a revoked consent takes the
// app's grants for the user. Grants made through the common issuer live in
// its own tenant and are revoked there too.
//
// # Browsers
//
// Any origin may call the API from a browser (CORS, as Microsoft Graph
// allows): the API authenticates by the bearer token alone and never reads
// a cookie, so a page can do nothing with it that the token's holder could
// not. Preflights allow GET, POST, PATCH and DELETE with the Authorization,
// Content-Type and Content-Encoding headers and those the Graph SDKs send
// (SdkVersion, client-request-id, return-client-request-id,
// ConsistencyLevel, Prefer) for 10 minutes; answers, errors included,
// expose WWW-Authenticate, Retry-After, request-id, client-request-id,
// Location and Allow, and never allow credentials.
package graph
