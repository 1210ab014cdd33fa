package storage

import (
	"context"
	"time"
)

// Tenants stores tenants and their unique names.
type Tenants interface {
	// CreateTenant stores a new tenant. It returns ErrExists if the ID or
	// the name is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// GetTenant returns ErrNotFound if no tenant has the ID.
	GetTenant(ctx context.Context, tenantID string) (Tenant, error)
	// TenantIDByName returns ErrNotFound if no tenant has the name.
	TenantIDByName(ctx context.Context, name string) (string, error)
	// UpdateTenant applies fn to the current tenant and stores the result
	// atomically. fn may not change ID or Name. It returns ErrNotFound,
	// fn's error, or ErrConflict after bounded retries.
	UpdateTenant(ctx context.Context, tenantID string, fn func(*Tenant) error) (Tenant, error)
	// ListTenants returns every tenant, in no particular order.
	ListTenants(ctx context.Context) ([]Tenant, error)
}

// Domains stores verified domains; a domain is verified in at most one tenant.
type Domains interface {
	// AddDomain marks domain (lower-case) verified in the tenant. It is
	// idempotent for the same tenant and returns ErrExists if another
	// tenant has verified it.
	AddDomain(ctx context.Context, tenantID, domain string) error
	// TenantIDByDomain returns ErrNotFound if no tenant verified domain.
	TenantIDByDomain(ctx context.Context, domain string) (string, error)
	// Domains lists the tenant's verified domains, sorted.
	Domains(ctx context.Context, tenantID string) ([]string, error)
}

// Apps stores OIDC clients. Client IDs are unique across tenants.
type Apps interface {
	// CreateApp returns ErrExists if the client ID is taken in any tenant.
	CreateApp(ctx context.Context, tenantID string, a App) error
	// GetApp returns ErrNotFound if the tenant has no app with clientID.
	GetApp(ctx context.Context, tenantID, clientID string) (App, error)
	// AppTenant returns the ID of the tenant the client is registered in,
	// or ErrNotFound.
	AppTenant(ctx context.Context, clientID string) (string, error)
	// UpdateApp is compare-and-swap like UpdateTenant; fn may not change
	// ClientID or TenantID.
	UpdateApp(ctx context.Context, tenantID, clientID string, fn func(*App) error) (App, error)
	// ListApps lists the tenant's apps, sorted by client ID.
	ListApps(ctx context.Context, tenantID string) ([]App, error)
}

// Users stores users, their unique mail and UPN per tenant, and their
// password hashes apart from the profile.
type Users interface {
	// CreateUser stores u and its password hash ("" for none) atomically.
	// It returns ErrExists if the ID, the Mail (when set) or the
	// UserPrincipalName is taken in the tenant.
	CreateUser(ctx context.Context, tenantID string, u User, passwordHash string) error
	// GetUser returns ErrNotFound if the tenant has no such user.
	GetUser(ctx context.Context, tenantID, userID string) (User, error)
	// UserIDByMail looks a user up by normalised mail; ErrNotFound if none.
	UserIDByMail(ctx context.Context, tenantID, mail string) (string, error)
	// UserIDByUPN looks a user up by UPN (case-insensitive); ErrNotFound if none.
	UserIDByUPN(ctx context.Context, tenantID, upn string) (string, error)
	// UpdateUser is compare-and-swap; when fn changes Mail or
	// UserPrincipalName the indexes move in the same atomic step, and
	// ErrExists is returned if the new value is taken. fn may not change ID.
	UpdateUser(ctx context.Context, tenantID, userID string, fn func(*User) error) (User, error)
	// ListUsers lists the tenant's users, sorted by ID.
	ListUsers(ctx context.Context, tenantID string) ([]User, error)
	// PasswordHash returns the user's encoded hash, or ErrNotFound if the
	// user does not exist or has no password.
	PasswordHash(ctx context.Context, tenantID, userID string) (string, error)
	// SetPasswordHash replaces the hash; ErrNotFound if no such user.
	SetPasswordHash(ctx context.Context, tenantID, userID, hash string) error
}

// AuthRequests stores pending authorization requests and single-use values
// such as authorization codes.
type AuthRequests interface {
	// SaveAuthRequest stores ar for ttl; ErrExists if the ID is taken.
	SaveAuthRequest(ctx context.Context, tenantID string, ar AuthRequest, ttl time.Duration) error
	// GetAuthRequest returns ErrNotFound if it does not exist or expired.
	GetAuthRequest(ctx context.Context, tenantID, id string) (AuthRequest, error)
	// UpdateAuthRequest is compare-and-swap and keeps the remaining TTL.
	UpdateAuthRequest(ctx context.Context, tenantID, id string, fn func(*AuthRequest) error) (AuthRequest, error)
	// DeleteAuthRequest deletes it; deleting a missing one is not an error.
	DeleteAuthRequest(ctx context.Context, tenantID, id string) error

	// PutOnce stores a single-use value under (kind, id) for ttl. It
	// returns ErrExists if one is stored there (used or not).
	PutOnce(ctx context.Context, tenantID, kind, id string, value []byte, ttl time.Duration) error
	// TakeOnce atomically consumes the value: the first caller gets it,
	// and so does a resend of the same operation (see WithOperation); every
	// other caller, while the tombstone lives (keep from the first take),
	// gets the same value and a *TakenError (ErrConsumed) saying when it was
	// taken. It returns ErrNotFound if nothing is stored or the value
	// expired.
	TakeOnce(ctx context.Context, tenantID, kind, id string, keep time.Duration) ([]byte, error)
}

// Grants stores grants, their refresh tokens and revoked access tokens.
type Grants interface {
	// CreateGrant stores g until g.ExpiresAt; ErrExists if the ID is taken
	// or was revoked within the last hour (a revoked grant never returns).
	CreateGrant(ctx context.Context, tenantID string, g Grant) error
	// GetGrant returns ErrNotFound if the grant expired or was revoked.
	GetGrant(ctx context.Context, tenantID, grantID string) (Grant, error)
	// RevokeGrant deletes the grant, which ends every token issued under
	// it. Revoking a missing grant is not an error.
	RevokeGrant(ctx context.Context, tenantID, grantID string) error
	// RevokeUserGrants revokes the user's grants for clientID, or all of
	// them when clientID is "", and returns how many it revoked.
	RevokeUserGrants(ctx context.Context, tenantID, userID, clientID string) (int, error)
	// UserGrants lists the user's live grants.
	UserGrants(ctx context.Context, tenantID, userID string) ([]Grant, error)

	// SaveRefreshToken stores rt until rt.ExpiresAt; a token already stored
	// under rt.Hash is kept as it is, so a resend never resets a used one.
	SaveRefreshToken(ctx context.Context, tenantID string, rt RefreshToken) error
	// GetRefreshToken returns the token stored under hash. It returns
	// ErrNotFound if there is none or its grant is gone, and the token, its
	// RotatedAt and Successor with ErrConsumed if it was already rotated.
	GetRefreshToken(ctx context.Context, tenantID, hash string) (RefreshToken, error)
	// RotateRefreshToken atomically marks oldHash used, records r with it
	// and stores next. If oldHash was already used it succeeds without a
	// change when this is a resend of the same operation, or when next.Hash
	// is the successor that rotation stored, within r.Reuse of it, and that
	// successor is still unused and its grant live (the client repeating
	// a refresh whose answer it lost). In that case with another successor
	// it returns ErrConflict and changes nothing: a concurrent request
	// rotated it, and reading the token again repeats that rotation.
	// Otherwise it revokes the whole grant and returns ErrConsumed. If
	// oldHash or its grant is gone it returns ErrNotFound.
	RotateRefreshToken(ctx context.Context, tenantID, oldHash string, next RefreshToken, r Rotation) error

	// RevokeAccessToken denies the access token with jti until until.
	RevokeAccessToken(ctx context.Context, tenantID, jti string, until time.Time) error
	// TokenActive reports, in one round trip, whether the grant still
	// exists and jti has not been revoked.
	TokenActive(ctx context.Context, tenantID, grantID, jti string) (bool, error)
	// TokenUser answers TokenActive and reads the user the token names, in
	// one round trip: the API's per-request check. userTenantID is the
	// user's home tenant, tenantID's own except for tokens of the common
	// issuer. An inactive token gives (User{}, false, nil) whether or not
	// the user exists; an active one whose user is gone gives ErrNotFound.
	TokenUser(ctx context.Context, tenantID, grantID, jti, userTenantID, userID string) (User, bool, error)
}

// Sessions stores browser SSO sessions.
type Sessions interface {
	// CreateSession stores s until s.ExpiresAt.
	CreateSession(ctx context.Context, tenantID string, s Session) error
	// GetSession returns ErrNotFound if it does not exist or expired.
	GetSession(ctx context.Context, tenantID, hash string) (Session, error)
	// DeleteSession deletes one session; a missing one is not an error.
	DeleteSession(ctx context.Context, tenantID, hash string) error
	// DeleteUserSessions deletes every session of the user.
	DeleteUserSessions(ctx context.Context, tenantID, userID string) error
}

// Keys stores each tenant's signing keys as one small set.
type Keys interface {
	// SigningKeys returns the tenant's keys (none is not an error).
	SigningKeys(ctx context.Context, tenantID string) ([]SigningKey, error)
	// UpdateSigningKeys applies fn to the current set and stores the result
	// atomically (compare-and-swap), so that replicas rotating at once
	// cannot lose each other's keys. It returns the stored set.
	UpdateSigningKeys(ctx context.Context, tenantID string, fn func([]SigningKey) ([]SigningKey, error)) ([]SigningKey, error)
}

// Counters counts events in fixed windows, for rate limits and lockouts.
type Counters interface {
	// Hit increments the counter and returns the new count; the window
	// starts at the first hit and the counter vanishes when it ends.
	Hit(ctx context.Context, tenantID, key string, window time.Duration) (int64, error)
	// Count returns the current count (0 when none).
	Count(ctx context.Context, tenantID, key string) (int64, error)
	// ResetCounter deletes the counter.
	ResetCounter(ctx context.Context, tenantID, key string) error
	// Unhit takes back one hit (an attempt that turned out to succeed);
	// it never takes a counter below zero and keeps its window.
	Unhit(ctx context.Context, tenantID, key string) error
}

// Store is everything a backend provides.
type Store interface {
	Tenants
	Domains
	Apps
	Users
	AuthRequests
	Grants
	Sessions
	Keys
	Counters
	Flows
	Audit
	Consents
	// Ping returns ErrUnavailable if the backend cannot be reached.
	Ping(ctx context.Context) error
}

// Flows stores sign-up and password-reset flows.
type Flows interface {
	// CreateFlow stores f for ttl; ErrExists if the ID is taken.
	CreateFlow(ctx context.Context, tenantID string, f Flow, ttl time.Duration) error
	// GetFlow returns ErrNotFound if the flow does not exist or expired.
	GetFlow(ctx context.Context, tenantID, id string) (Flow, error)
	// UpdateFlow is compare-and-swap and keeps the remaining TTL; fn may
	// not change ID. Concurrent updaters never both apply from the same
	// state, so a counter incremented in fn is never lost and a step
	// advanced in fn is advanced once.
	UpdateFlow(ctx context.Context, tenantID, id string, fn func(*Flow) error) (Flow, error)
	// DeleteFlow deletes it; a missing one is not an error.
	DeleteFlow(ctx context.Context, tenantID, id string) error
}

// Audit is a tenant's append-only audit log, capped to its newest entries.
type Audit interface {
	// AppendAudit adds e (its ID is assigned) and returns the stored ID.
	AppendAudit(ctx context.Context, tenantID string, e AuditEvent) (string, error)
	// ListAudit returns at most limit events, newest first, older than
	// the event ID before ("" for the newest).
	ListAudit(ctx context.Context, tenantID string, limit int, before string) ([]AuditEvent, error)
}

// Consents stores users' permission grants to apps, one per user and app.
type Consents interface {
	// PutConsent stores c for (c.UserID, c.ClientID), adding its scopes to
	// any already granted; the first grant's ID and CreatedAt are kept. It
	// returns the stored consent.
	PutConsent(ctx context.Context, tenantID string, c Consent) (Consent, error)
	// GetConsent returns ErrNotFound if the user granted the app nothing.
	GetConsent(ctx context.Context, tenantID, userID, clientID string) (Consent, error)
	// ListConsents lists the user's consents, sorted by client ID.
	ListConsents(ctx context.Context, tenantID, userID string) ([]Consent, error)
	// DeleteConsent deletes the user's consent with that ID and returns it;
	// ErrNotFound if the user has none with that ID.
	DeleteConsent(ctx context.Context, tenantID, userID, consentID string) (Consent, error)
}
