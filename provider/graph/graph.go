package graph

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/policy"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
)

// Store is what the API reads and writes.
type Store interface {
	GetUser(ctx context.Context, tenantID, userID string) (storage.User, error)
	UserIDByUPN(ctx context.Context, tenantID, upn string) (string, error)
	CreateUser(ctx context.Context, tenantID string, u storage.User, passwordHash string) error
	UpdateUser(ctx context.Context, tenantID, userID string, fn func(*storage.User) error) (storage.User, error)
	ListUsers(ctx context.Context, tenantID string) ([]storage.User, error)
	RevokeUserGrants(ctx context.Context, tenantID, userID, clientID string) (int, error)
	DeleteUserSessions(ctx context.Context, tenantID, userID string) error
	ListConsents(ctx context.Context, tenantID, userID string) ([]storage.Consent, error)
	DeleteConsent(ctx context.Context, tenantID, userID, consentID string) (storage.Consent, error)
	ListAudit(ctx context.Context, tenantID string, limit int, before string) ([]storage.AuditEvent, error)
}

// Tenants resolves a token's tid to its tenant (tenancy.Resolver). It
// returns a fault of kind NotFound for an unknown tenant.
type Tenants interface {
	Resolve(ctx context.Context, segment string) (storage.Tenant, error)
}

// Verifier verifies access tokens and reads their user (bearer.Tokens):
// a token that is invalid, revoked, or whose user is gone or disabled
// gives a fault of kind Unauthenticated.
type Verifier interface {
	// Peek returns the unverified iss and tid claims of a token.
	Peek(raw string) (iss, tid string, ok bool)
	VerifyUser(ctx context.Context, tenantID, raw string) (bearer.Claims, storage.User, error)
}

// Passwords changes a signed-in user's password (account.Passwords).
type Passwords interface {
	Change(ctx context.Context, c account.PasswordChange) error
}

// Hasher hashes the initial password of a user an administrator creates
// (password.Hasher).
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
}

// Policies reads and changes authorization policies (policy.Service), the
// one place that does: Get reads the store (never a cache), so a change
// reads back at once; Update returns a fault of kind Invalid, and writes
// nothing, for a value out of range or allowedToReadOtherUsers=true in an
// external tenant, and records every change in the audit log.
type Policies interface {
	Get(ctx context.Context, tenantID string) (storage.AuthorizationPolicy, error)
	Update(ctx context.Context, tenantID, actor string, c policy.Change) (storage.AuthorizationPolicy, error)
}

// Auditor records what administrators and users changed (audit.Recorder).
type Auditor interface {
	Record(ctx context.Context, tenantID string, e storage.AuditEvent)
}

// Config configures the API.
type Config struct {
	// URLs gives the API's base, B/v1.0, for @odata.context and links.
	URLs      tenancy.URLs
	Store     Store
	Tenants   Tenants
	Tokens    Verifier
	Passwords Passwords
	Hasher    Hasher
	Policies  Policies
	Audit     Auditor
	// RequestID returns the request's ID for the error envelope; when nil
	// or empty, the X-Request-Id header already set on the response is used.
	RequestID func(context.Context) string
	Logger    *slog.Logger
	Clock     func() time.Time
}

// API is the Graph-style API. It is an http.Handler for the paths under
// /v1.0/.
type API struct {
	cfg  Config
	mux  *http.ServeMux
	cors *cors.Cors
	// commonIssuer is the issuer of B/common/v2.0.
	commonIssuer string
}

// New returns the API for cfg.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), commonIssuer: cfg.URLs.Issuer(storage.CommonTenantID)}
	a.routes()
	// Any origin may call the API from a browser: it authenticates by the
	// bearer token alone, never a cookie, so a page cannot act with
	// credentials it does not hold (as Microsoft Graph allows any origin).
	a.cors = cors.New(cors.Options{
		AllowedOrigins: []string{"*"},
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Content-Encoding",
			// The Graph SDKs' headers.
			"SdkVersion", "client-request-id", "return-client-request-id", "ConsistencyLevel", "Prefer"},
		ExposedHeaders: []string{"WWW-Authenticate", "Retry-After", "request-id", "client-request-id", "Location", "Allow"},
		MaxAge:         600,
	})
	return a
}

// ServeHTTP implements http.Handler. Every answer carries Graph's
// request-id and client-request-id. A CORS preflight is answered here;
// every other request goes to its endpoint.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.stampIDs(w, r)
	a.cors.ServeHTTP(w, r, a.mux.ServeHTTP)
}

// stampIDs sets Graph's request-id header, the request's ID
// (Config.RequestID's, else the X-Request-Id the router set, else a new
// GUID), and client-request-id: the one the client sent (the SDKs send a
// GUID with every request), when it is a plausible ID, else the
// request-id, as Graph answers a request that sent none.
func (a *API) stampIDs(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	id := ""
	if a.cfg.RequestID != nil {
		id = a.cfg.RequestID(r.Context())
	}
	if id == "" {
		id = h.Get("X-Request-Id")
	}
	if id == "" {
		id = storage.NewID()
	}
	h.Set("request-id", id)
	client := id
	if vs := r.Header.Values("client-request-id"); len(vs) == 1 && plausibleID(vs[0]) {
		client = vs[0]
	}
	h.Set("client-request-id", client)
}

// plausibleID reports whether a client's request ID may be echoed: 1 to
// 128 visible ASCII characters.
func plausibleID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// handler is an endpoint: it runs for an authenticated caller and returns
// an error for writeError, or nil once it has answered.
type handler func(w http.ResponseWriter, r *http.Request, c *caller) error

func (a *API) routes() {
	for pattern, h := range map[string]handler{
		"GET /v1.0/me":                                        a.getMe,
		"PATCH /v1.0/me":                                      a.patchMe,
		"POST /v1.0/me/changePassword":                        a.changePassword,
		"GET /v1.0/me/oauth2PermissionGrants":                 a.listConsents,
		"GET /v1.0/me/oauth2PermissionGrants/{id}":            a.getConsent,
		"DELETE /v1.0/me/oauth2PermissionGrants/{id}":         a.revokeConsent,
		"GET /v1.0/oauth2PermissionGrants/{id}":               a.getConsent,
		"DELETE /v1.0/oauth2PermissionGrants/{id}":            a.revokeConsent,
		"GET /v1.0/users":                                     a.listUsers,
		"POST /v1.0/users":                                    a.createUser,
		"GET /v1.0/users/{id}":                                a.getUser,
		"PATCH /v1.0/users/{id}":                              a.patchUser,
		"POST /v1.0/roleManagement/directory/roleAssignments": a.assignRole,
		"GET /v1.0/policies/authorizationPolicy":              a.getPolicy,
		"PATCH /v1.0/policies/authorizationPolicy":            a.patchPolicy,
		"GET /v1.0/auditLogs/directoryAudits":                 a.listAudits,
		"GET /v1.0/groups":                                    a.emptyDirectory("groups"),
		"GET /v1.0/groups/{rest...}":                          a.emptyDirectory(""),
		"GET /v1.0/devices":                                   a.emptyDirectory("devices"),
		"GET /v1.0/devices/{rest...}":                         a.emptyDirectory(""),
		catchAll:                                              a.noSuchResource,
	} {
		a.mux.Handle(pattern, a.authenticated(h))
	}
}

// authenticated runs h for the caller the request's token names.
func (a *API) authenticated(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.authenticate(r)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			a.writeError(w, r, err)
		}
	})
}

// Scopes and roles the API checks.
const (
	scopeUserRead         = "User.Read"
	scopeUserReadWrite    = "User.ReadWrite"
	scopeDirectoryAsUser  = "Directory.AccessAsUser.All"
	scopeUserReadWriteAll = "User.ReadWrite.All"
	scopePolicyRead       = "Policy.Read.All"
	scopePolicyWriteAuthz = "Policy.ReadWrite.Authorization"
	scopeAuditLogRead     = "AuditLog.Read.All"
	roleGlobalAdmin       = "Global Administrator"
	signInUPN             = "userPrincipalName"
	creationSelfService   = "SelfServiceSignUp"
	creationInvitation    = "Invitation"
)

// caller is the authenticated user of a request.
type caller struct {
	tenant storage.Tenant
	claims bearer.Claims
	user   storage.User
}

// has reports whether the token carries any of scopes.
func (c *caller) has(scopes ...string) bool {
	return slices.ContainsFunc(scopes, c.claims.HasScope)
}

// need returns nil if the token carries any of scopes, else the
// insufficient_scope refusal naming the first.
func (c *caller) need(scopes ...string) error {
	if c.has(scopes...) {
		return nil
	}
	return insufficientScope(scopes[0])
}

// admin reports whether the caller holds the Global Administrator role and
// may use it: never an external user of an external tenant.
func (c *caller) admin() bool {
	return slices.Contains(c.user.Roles, roleGlobalAdmin) && !externalUser(c.tenant, c.user)
}

// needAdmin returns nil if the caller is an administrator whose token
// carries any of scopes: Authorization_RequestDenied without the role,
// insufficient_scope with the role but without the scope.
func (c *caller) needAdmin(scopes ...string) error {
	if !c.admin() {
		return denied()
	}
	return c.need(scopes...)
}

// isSelf reports whether ref (an ID or a userPrincipalName) names the
// caller.
func (c *caller) isSelf(ref string) bool {
	return strings.ToLower(ref) == c.user.ID ||
		(c.user.UserPrincipalName != "" && strings.EqualFold(ref, c.user.UserPrincipalName))
}

// mayReadOthers reports whether the tenant's default permissions let the
// caller read other users' basic profiles: members of workforce tenants
// whose policy allows it. External tenants never do (seed 003).
func (c *caller) mayReadOthers() bool {
	return c.tenant.Kind == storage.Workforce && c.user.UserType != "Guest" &&
		c.tenant.Policy.DefaultUserRolePermissions.AllowedToReadOtherUsers
}

// externalUser reports whether u is an external user, who may never hold
// a directory role: a customer who signed up through an app, or, in an
// external tenant, any user without a userPrincipalName identity except an
// invited guest.
func externalUser(t storage.Tenant, u storage.User) bool {
	if u.CreationType == creationSelfService {
		return true
	}
	if t.Kind != storage.External {
		return false
	}
	if u.UserType == "Guest" && u.CreationType == creationInvitation {
		return false
	}
	return !slices.ContainsFunc(u.Identities, func(id storage.ObjectIdentity) bool {
		return id.SignInType == signInUPN
	})
}

// maxToken bounds an access token (bearer.Tokens.Verify refuses longer).
const maxToken = 8192

// authenticate verifies the request's bearer token and loads its user.
//
// A tenant's token is verified with the keys of the tenant its tid names,
// resolved first (so that random tids cost one cached lookup, never a key
// load). A token of the common issuer (B/common/v2.0) is verified with the
// common issuer's keys; its verified tid is the user's home tenant.
func (a *API) authenticate(r *http.Request) (*caller, error) {
	raw, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	iss, tid, ok := a.cfg.Tokens.Peek(raw)
	if !ok {
		return nil, invalidToken("The access token is malformed.")
	}
	ctx := r.Context()
	var t storage.Tenant
	var claims bearer.Claims
	var u storage.User
	if iss == a.commonIssuer {
		if claims, u, err = a.cfg.Tokens.VerifyUser(ctx, storage.CommonTenantID, raw); err != nil {
			return nil, err
		}
		if t, err = a.tenant(ctx, claims.TenantID); err != nil {
			return nil, err
		}
	} else {
		if t, err = a.tenant(ctx, tid); err != nil {
			return nil, err
		}
		if claims, u, err = a.cfg.Tokens.VerifyUser(ctx, t.ID, raw); err != nil {
			return nil, err
		}
	}
	return &caller{tenant: t, claims: claims, user: u}, nil
}

// tenant resolves the tenant a token's tid names; an unknown one makes
// the token invalid.
func (a *API) tenant(ctx context.Context, tid string) (storage.Tenant, error) {
	if !storage.IsID(tid) {
		return storage.Tenant{}, invalidToken("The access token is malformed.")
	}
	t, err := a.cfg.Tenants.Resolve(ctx, tid)
	if err != nil {
		if fault.From(err).Kind == fault.NotFound {
			return storage.Tenant{}, invalidToken("The access token was issued for an unknown tenant.")
		}
		return storage.Tenant{}, err
	}
	if t.ID != tid || t.Kind == storage.System {
		return storage.Tenant{}, invalidToken("The access token was issued for an unknown tenant.")
	}
	return t, nil
}

// bearerToken returns the token of the one Authorization header, which
// must use the Bearer scheme (RFC 6750 section 2.1). Tokens in the query
// string or the body are never read.
func bearerToken(r *http.Request) (string, error) {
	hs := r.Header.Values("Authorization")
	switch {
	case len(hs) == 0:
		return "", fault.Wrap(errNoToken, fault.Unauthenticated, codeInvalidToken, "Access token is empty.")
	case len(hs) > 1:
		return "", invalidToken("The request has more than one Authorization header.")
	}
	scheme, tok, _ := strings.Cut(hs[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", invalidToken("The Authorization header must use the Bearer scheme.")
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", fault.Wrap(errNoToken, fault.Unauthenticated, codeInvalidToken, "Access token is empty.")
	}
	if len(tok) > maxToken {
		return "", invalidToken("The access token is malformed.")
	}
	for i := range len(tok) {
		if !token68[tok[i]] {
			return "", invalidToken("The access token is malformed.")
		}
	}
	return tok, nil
}

// token68 holds the bytes of RFC 6750's b64token (token68 in RFC 9110).
var token68 = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=" {
		t[c] = true
	}
	return t
}()

// clientIP is the TCP peer, as sign-in counts it: Foyer does not trust
// forwarding headers.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// record appends an audit event for the caller's action.
func (a *API) record(r *http.Request, c *caller, e storage.AuditEvent) {
	if a.cfg.Audit == nil {
		return
	}
	if e.Actor == "" {
		e.Actor = c.user.ID
	}
	if e.Result == "" {
		e.Result = "success"
	}
	a.cfg.Audit.Record(r.Context(), c.tenant.ID, e)
}

// noSuchResource answers what no route serves: 405 with Allow for a path
// the API serves with other methods, 404 for any other path.
func (a *API) noSuchResource(w http.ResponseWriter, r *http.Request, c *caller) error {
	if allow := a.allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return fault.New(fault.MethodNotAllowed, codeBadRequest,
			"The HTTP method "+shown(r.Method)+" is not allowed for this resource; it allows "+strings.Join(allow, ", ")+".")
	}
	return fault.New(fault.NotFound, codeNotFound, "Resource not found for the segment or method.")
}

// catchAll is the route of every request no other route serves.
const catchAll = "/v1.0/"

// routeMethods are the methods the routes use; HEAD is served wherever
// GET is (as http.ServeMux does).
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete}

// allowed returns the methods a route serves r's path with, asking the
// mux itself, so that the answer follows the route table.
func (a *API) allowed(r *http.Request) []string {
	var out []string
	for _, m := range routeMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := a.mux.Handler(probe); pattern != catchAll && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// emptyDirectory serves groups and devices, which Foyer does not have:
// administrators get an empty collection (or 404 for one item); everyone
// else is refused (seed 003: customers cannot read groups or devices).
func (a *API) emptyDirectory(path string) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if err := c.needAdmin(scopeDirectoryAsUser); err != nil {
			return err
		}
		if path == "" {
			return notFound()
		}
		if _, err := queryOptions(r, "$top", "$select"); err != nil {
			return err
		}
		a.writeJSON(w, r, http.StatusOK, a.collection(path, nil, nil, ""))
		return nil
	}
}
