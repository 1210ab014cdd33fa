package oidcop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/provider/sso"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// Config configures the protocol layer.
type Config struct {
	URLs    tenancy.URLs
	Store   Store
	Keys    Keys
	Tokens  *bearer.Tokens
	Cookies *sso.Cookies
	Logger  *slog.Logger
	Clock   func() time.Time
	// Templates renders the error page shown to browsers.
	Templates *templates.Set
	// RequestID returns the request's ID, shown on error pages.
	RequestID func(context.Context) string

	// AllowInsecure permits an http:// issuer (development and tests).
	AllowInsecure bool

	AuthRequestLifetime  time.Duration // default 10 min
	CodeLifetime         time.Duration // default 2 min
	CodeReplayWindow     time.Duration // how long a used code is remembered; default 1 h
	IDTokenLifetime      time.Duration // default 1 h
	RefreshTokenLifetime time.Duration // absolute life of a grant with offline_access; default 30 days
	// RetryWindow is how long after a code exchange or a refresh the client
	// may send the same request again, having lost the answer, and get the
	// same refresh token instead of being taken for a replay (see
	// retry.go); default 30 s.
	RetryWindow time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS (default 5 min).
	// Key rotation must publish a key at least this long before it signs.
	JWKSMaxAge time.Duration
}

// Scopes Foyer knows, in the order discovery lists them.
var Scopes = []string{
	oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess,
	"User.Read", "User.ReadWrite", "Directory.AccessAsUser.All",
	"Policy.Read.All", "Policy.ReadWrite.Authorization", "User.ReadWrite.All",
	"User.Invite.All", "Domain.ReadWrite.All", "Application.ReadWrite.All", "AuditLog.Read.All",
}

// OP serves the OIDC protocol endpoints of every tenant.
type OP struct {
	cfg      Config
	provider *op.Provider
	storage  *opStorage
	cors     *cors.Cors

	discovery sync.Map // tenant ID -> []byte
}

// New builds the provider.
func New(cfg Config) (*OP, error) {
	if cfg.Templates == nil {
		return nil, errors.New("oidcop: Config.Templates is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	setDefault(&cfg.AuthRequestLifetime, 10*time.Minute)
	setDefault(&cfg.CodeLifetime, 2*time.Minute)
	setDefault(&cfg.CodeReplayWindow, time.Hour)
	setDefault(&cfg.IDTokenLifetime, time.Hour)
	setDefault(&cfg.RefreshTokenLifetime, 30*24*time.Hour)
	setDefault(&cfg.RetryWindow, 30*time.Second)
	setDefault(&cfg.JWKSMaxAge, 5*time.Minute)

	o := &OP{cfg: cfg}
	o.storage = &opStorage{store: cfg.Store, keys: cfg.Keys, tokens: cfg.Tokens, urls: cfg.URLs, cfg: &o.cfg}
	opts := []op.Option{
		op.WithCrypto(tokenCodec{}),
		op.WithCORSOptions(nil), // Foyer's own CORS, below, admits only registered origins
		op.WithAccessTokenKeySet(rejectKeySet{}),
	}
	if cfg.AllowInsecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(&op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.English},
		SupportedScopes:       Scopes,
		SupportedClaims: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash",
			"oid", "tid", "ver", "name", "given_name", "family_name", "preferred_username", "locale", "email", "email_verified"},
	}, o.storage, func(bool) (op.IssuerFromRequest, error) {
		return func(r *http.Request) string { return cfg.URLs.Issuer(tenantID(r.Context())) }, nil
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("oidcop: %w", err)
	}
	o.provider = p
	o.cors = cors.New(cors.Options{
		AllowOriginRequestFunc: o.allowOrigin,
		AllowedMethods:         []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:         []string{"Authorization", "Content-Type"},
		MaxAge:                 600,
	})
	return o, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// rejectKeySet makes zitadel's own access-token verification fail, so the
// only way an access token is accepted is Foyer's (bearer.Tokens.Verify).
type rejectKeySet struct{}

func (rejectKeySet) VerifySignature(context.Context, *jose.JSONWebSignature) ([]byte, error) {
	return nil, errNotAccessToken
}

// Endpoint paths, relative to the issuer.
const (
	pathDiscovery  = "/.well-known/openid-configuration"
	pathKeys       = "/keys"
	pathAuthorize  = "/authorize"
	pathCallback   = "/authorize/callback"
	pathToken      = "/oauth/token"
	pathIntrospect = "/oauth/introspect"
	pathUserinfo   = "/userinfo"
	pathRevoke     = "/revoke"
	pathEndSession = "/end_session"
)

// Handles reports whether rel (the path below the issuer) is a protocol
// endpoint served by ServeTenant.
func Handles(rel string) bool {
	switch rel {
	case pathDiscovery, pathKeys, pathAuthorize, pathCallback, pathToken, pathIntrospect, pathUserinfo, pathRevoke, pathEndSession:
		return true
	}
	return false
}

// ServeTenant serves the protocol endpoint rel for the tenant already in the
// request context. Endpoints a browser navigates to answer no CORS.
func (o *OP) ServeTenant(w http.ResponseWriter, r *http.Request, rel string) {
	if kindOf(rel) == browserEndpoint {
		o.serve(w, r, rel)
		return
	}
	o.cors.ServeHTTP(w, r, func(w http.ResponseWriter, r *http.Request) { o.serve(w, r, rel) })
}

func (o *OP) serve(w http.ResponseWriter, r *http.Request, rel string) {
	t, _ := tenancy.FromContext(r.Context())
	ctx, tracker := storage.TrackFailures(r.Context())
	st := &reqState{sessionHash: o.cfg.Cookies.Read(r, t.ID)}
	ctx = withState(ctx, st)
	ctx = op.ContextWithIssuer(ctx, o.cfg.URLs.Issuer(t.ID))
	r2 := r.WithContext(ctx)
	r2.URL = cloneURL(r.URL, rel)

	buf := &bufferedWriter{header: http.Header{}}
	switch rel {
	case pathDiscovery:
		o.serveDiscovery(buf, r2, t.ID)
	case pathKeys:
		o.serveKeys(buf, r2, t.ID)
	case pathAuthorize:
		if o.guardAuthorize(buf, r2) {
			o.provider.ServeHTTP(buf, r2)
		}
	case pathToken:
		if o.guardBackchannel(buf, r2) && o.authenticClient(buf, r2) {
			st.codeVerifier = r2.PostFormValue("code_verifier")
			o.tokenScopes(r2)
			o.provider.ServeHTTP(buf, r2)
			o.addClientInfo(buf, r2, st)
		}
	case pathIntrospect, pathRevoke:
		if o.guardBackchannel(buf, r2) && o.authenticClient(buf, r2) && o.preverify(buf, r2, rel) {
			o.provider.ServeHTTP(buf, r2)
		}
	case pathUserinfo:
		if o.preverify(buf, r2, rel) {
			o.provider.ServeHTTP(buf, r2)
		}
	case pathEndSession:
		if o.guardPage(buf, r2) {
			st.postLogoutRedirectURI = r2.FormValue("post_logout_redirect_uri")
			st.logoutState = r2.FormValue("state")
			o.provider.ServeHTTP(buf, r2)
		}
	default:
		o.provider.ServeHTTP(buf, r2)
	}
	if rel == pathAuthorize || rel == pathCallback {
		fixFragment(buf.header)
	}
	if tracker.Failed() {
		o.cfg.Logger.ErrorContext(ctx, "storage unavailable; answering 503", "path", rel)
		if kindOf(rel) == browserEndpoint {
			o.errorPage(w, r2, http.StatusServiceUnavailable, "temporarilyUnavailable", "The service is temporarily unavailable. Please try again shortly.")
			return
		}
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service is temporarily unavailable. Please try again shortly.")
		return
	}
	o.conform(buf, r2, rel)
	if st.clearSession {
		o.cfg.Cookies.Clear(buf, t.ID)
	}
	buf.flush(w)
}

func cloneURL(u *url.URL, path string) *url.URL {
	c := *u
	c.Path, c.RawPath = path, ""
	return &c
}

// bufferedWriter holds a response so it can be replaced by a 503 when the
// store failed during the request. Protocol responses are small.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// reset drops what was written, to write another answer. Headers about
// the exchange rather than the answer stay: CORS (a browser app must be
// able to read the new answer too) and MSAL's echoed client-request-id.
func (b *bufferedWriter) reset() {
	kept := http.Header{}
	for k, v := range b.header {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" || k == http.CanonicalHeaderKey(headerClientRequestID) {
			kept[k] = v
		}
	}
	b.header, b.status = kept, 0
	b.body.Reset()
}

func (b *bufferedWriter) flush(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}

// writeOAuthError writes an RFC 6749 error body.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}

// allowOrigin admits a CORS origin only if it is the origin of a redirect
// URI registered by one of the tenant's apps.
func (o *OP) allowOrigin(r *http.Request, origin string) bool {
	// rs/cors calls this for every request, before it looks at the Origin
	// header; without one there is nothing to allow and no apps to read.
	if origin == "" {
		return false
	}
	t, ok := tenancy.FromContext(r.Context())
	if !ok {
		return false
	}
	apps, err := o.cfg.Store.ListApps(r.Context(), t.ID)
	if err != nil {
		return false
	}
	for _, a := range apps {
		for _, u := range a.RedirectURIs {
			if p, err := url.Parse(u); err == nil && p.Scheme+"://"+p.Host == origin {
				return true
			}
		}
	}
	return false
}

// serveDiscovery answers with what works, and only that: code flow with
// PKCE S256, refresh tokens, no implicit, no device flow.
func (o *OP) serveDiscovery(w http.ResponseWriter, r *http.Request, tenantID string) {
	body, ok := o.discovery.Load(tenantID)
	if !ok {
		c := op.CreateDiscoveryConfig(r.Context(), o.provider, o.storage)
		c.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
		c.ResponseModesSupported = []string{"query", "fragment", "form_post"}
		c.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
		c.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
		c.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
		c.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic} // zitadel's introspection reads Basic only
		c.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
		c.TokenEndpointAuthSigningAlgValuesSupported = nil
		c.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
		c.RevocationEndpointAuthSigningAlgValuesSupported = nil
		c.RequestObjectSigningAlgValuesSupported = nil
		c.DeviceAuthorizationEndpoint = ""
		c.CheckSessionIframe = ""
		c.RequestParameterSupported = false
		c.RequestURIParameterSupported = false
		c.SubjectTypesSupported = []string{"public"}
		b, err := json.Marshal(c)
		if err != nil {
			writeOAuthError(w, http.StatusInternalServerError, "server_error", "")
			return
		}
		body, _ = o.discovery.LoadOrStore(tenantID, b)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	w.Write(body.([]byte))
}

func (o *OP) serveKeys(w http.ResponseWriter, r *http.Request, tenantID string) {
	body, err := o.cfg.Keys.JWKS(r.Context(), tenantID)
	if err != nil {
		o.cfg.Logger.ErrorContext(r.Context(), "jwks", "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(o.cfg.JWKSMaxAge/time.Second)))
	w.Write(body)
}

// preverify verifies the access token of a userinfo, introspection or
// revocation request with Foyer's verifier and leaves its claims in the
// request state for the storage callbacks. A token that fails leaves none:
// zitadel then answers active:false for introspection and 200 for
// revocation, and userinfo's invalid_token (see conform).
func (o *OP) preverify(w http.ResponseWriter, r *http.Request, rel string) bool {
	var raw string
	switch rel {
	case pathUserinfo:
		if r.Method == http.MethodPost && headerToken(r) == "" && !o.guardBackchannel(w, r) {
			return false
		}
		raw = bearerToken(r)
	default:
		raw = r.PostFormValue("token")
	}
	if raw == "" || strings.Count(raw, ".") != 2 {
		return true
	}
	t, _ := tenancy.FromContext(r.Context())
	c, err := o.cfg.Tokens.Verify(r.Context(), t.ID, raw)
	if err == nil {
		state(r.Context()).claims = &c
	} else if !errors.Is(err, bearer.ErrInvalid) {
		o.cfg.Logger.WarnContext(r.Context(), "access token check failed", "err", err)
	}
	return true
}
