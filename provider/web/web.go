package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/signup"
	"github.com/foyer-id/foyer/provider/sso"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// Store is what the pages read and write.
type Store interface {
	GetAuthRequest(ctx context.Context, tenantID, id string) (storage.AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, tenantID, id string, fn func(*storage.AuthRequest) error) (storage.AuthRequest, error)
	GetApp(ctx context.Context, tenantID, clientID string) (storage.App, error)
	AppTenant(ctx context.Context, clientID string) (string, error)
	GetTenant(ctx context.Context, tenantID string) (storage.Tenant, error)
	GetConsent(ctx context.Context, tenantID, userID, clientID string) (storage.Consent, error)
	PutConsent(ctx context.Context, tenantID string, c storage.Consent) (storage.Consent, error)
	AccountStore
	TenantIDByDomain(ctx context.Context, domain string) (string, error)
	CreateSession(ctx context.Context, tenantID string, s storage.Session) error
	GetSession(ctx context.Context, tenantID, hash string) (storage.Session, error)
	DeleteSession(ctx context.Context, tenantID, hash string) error
}

// Accounts signs users in (provider/account).
type Accounts interface {
	Authenticate(ctx context.Context, a account.Attempt) (account.SignedIn, error)
	DeviceSlot(tenantID, email string) string
}

// Protocol is the part of the OIDC layer the pages call back into
// (provider/oidcop).
type Protocol interface {
	// Reject ends an authorization request with an OAuth error at the app.
	Reject(w http.ResponseWriter, r *http.Request, ar storage.AuthRequest, code, desc string)
	// ConsumeLogout takes a pending logout confirmation.
	ConsumeLogout(ctx context.Context, tenantID, id string) (redirectURI string, err error)
}

// Config configures Pages.
type Config struct {
	URLs      tenancy.URLs
	Store     Store
	Accounts  Accounts
	Protocol  Protocol
	SignUp    SignUp
	Passwords Passwords
	Templates *templates.Set
	Cookies   *sso.Cookies
	// CSRFKey is the HMAC key of form tokens (32 bytes, shared by replicas).
	CSRFKey []byte
	// Insecure drops Secure and __Host- from cookies (dev on http://localhost).
	Insecure bool
	// SessionLifetime of the SSO session (default 12 h).
	SessionLifetime time.Duration
	Clock           func() time.Time
	Logger          *slog.Logger
}

// Pages serves a tenant's browser pages.
type Pages struct {
	cfg   Config
	csrf  csrf
	pages map[string]route
}

// New returns Pages for cfg.
func New(cfg Config) *Pages {
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Pages{cfg: cfg, csrf: csrf{key: cfg.CSRFKey, insecure: cfg.Insecure}}
	p.pages = p.routes()
	return p
}

// Page paths, relative to the tenant's issuer.
const (
	pathLogin      = "/login"
	pathLogout     = "/logout"
	pathLogoutDone = "/logout/done"
)

type handler func(w http.ResponseWriter, r *http.Request) error

// route is a page's GET and POST handlers (nil when not allowed).
type route struct{ get, post handler }

func (p *Pages) routes() map[string]route {
	return map[string]route{
		pathLogin:  {p.showSignIn, p.signIn},
		pathLogout: {p.showLogout, p.logout},
		pathLogoutDone: {func(w http.ResponseWriter, r *http.Request) error {
			return p.cfg.Templates.Error(w, templates.ErrorPage{Title: "You have signed out", Message: "You can close this window."})
		}, nil},
		pathConsent:         {p.showConsent, p.decideConsent},
		pathAccount:         {p.showAccount, nil},
		pathAccountSignIn:   {nil, p.accountSignIn},
		pathAccountProfile:  {nil, p.saveProfile},
		pathAccountRevoke:   {nil, p.revokeConsent},
		pathAccountPassword: {nil, p.changePassword},
		pathAccountSignOut:  {nil, p.accountSignOut},
		pathSignUp:          {p.showSignUp, p.startSignUp},
		pathSignUpCode:      {p.showCode, p.verifyCode},
		pathSignUpResend:    {nil, p.resend},
		pathSignUpProfile:   {p.showProfile, p.completeSignUp},
		pathReset:           {p.showReset, p.startReset},
		pathResetCode:       {p.showCode, p.verifyCode},
		pathResetResend:     {nil, p.resend},
		pathResetPassword:   {p.showNewPassword, p.completeReset},
	}
}

// Handles reports whether rel is one of the pages.
func Handles(rel string) bool {
	_, ok := pageSet[rel]
	return ok
}

var pageSet = (&Pages{}).routes()

// maxFormBytes bounds page form bodies.
const maxFormBytes = 64 << 10

// ServeTenant serves page rel for the tenant in the request context.
func (p *Pages) ServeTenant(w http.ResponseWriter, r *http.Request, rel string) {
	h := w.Header()
	h.Set("Content-Security-Policy", templates.ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	rt := p.pages[rel]
	var err error
	switch {
	case r.Method == http.MethodPost && rt.post != nil:
		if err = p.parseForm(w, r); err == nil {
			err = rt.post(w, r)
		}
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && rt.get != nil:
		err = rt.get(w, r)
	default:
		h.Set("Allow", "GET, POST")
		err = fault.New(fault.MethodNotAllowed, "methodNotAllowed", "This page does not accept that method.")
	}
	if err != nil {
		p.Fail(w, r, err)
	}
}

func (p *Pages) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fault.New(fault.TooLarge, "requestTooLarge", "The form is too large.")
		}
		return fault.New(fault.Invalid, "malformedForm", "The form could not be read.")
	}
	return nil
}

// Fail renders err as the error page, with the status the error model
// assigns: the answer to a browser whose request failed, also before a
// tenant was resolved (provider.Config.PageError).
func (p *Pages) Fail(w http.ResponseWriter, r *http.Request, err error) {
	e := fault.From(err)
	status := fault.Status(e)
	if status >= 500 {
		p.cfg.Logger.ErrorContext(r.Context(), "page failed", "err", err)
	}
	if s := fault.RetryAfterSeconds(e); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	p.cfg.Templates.WriteError(w, status, templates.ErrorPage{Title: "We can't continue", Message: e.Message, Code: e.Code, RequestID: w.Header().Get("X-Request-Id")})
}

func expired() error {
	return fault.New(fault.NotFound, "signInExpired", "This sign-in link has expired or was already used. Return to the application and start again.")
}

// authRequest loads the pending authorization request named by the form or
// query parameter "id".
func (p *Pages) authRequest(r *http.Request, tenantID string) (storage.AuthRequest, error) {
	id := r.FormValue("id")
	if id == "" || len(id) > 128 {
		return storage.AuthRequest{}, expired()
	}
	ar, err := p.cfg.Store.GetAuthRequest(r.Context(), tenantID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.AuthRequest{}, expired()
	}
	return ar, err
}

// usableSession returns the browser's session when it may satisfy ar
// without a new sign-in.
func (p *Pages) usableSession(r *http.Request, t storage.Tenant, ar storage.AuthRequest) (storage.Session, bool, error) {
	h := p.cfg.Cookies.Read(r, t.ID)
	if h == "" || slices.Contains(ar.Prompt, "login") || slices.Contains(ar.Prompt, "create") {
		return storage.Session{}, false, nil
	}
	s, err := p.cfg.Store.GetSession(r.Context(), t.ID, h)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	}
	if err != nil {
		return storage.Session{}, false, err
	}
	if ar.MaxAge != nil && p.cfg.Clock().Sub(s.AuthTime) > time.Duration(*ar.MaxAge)*time.Second {
		return s, false, nil
	}
	if ar.HintUserID != "" && ar.HintUserID != s.UserID {
		return s, false, nil
	}
	return s, true, nil
}

func (p *Pages) showSignIn(w http.ResponseWriter, r *http.Request) error {
	t, _ := tenancy.FromContext(r.Context())
	ar, err := p.authRequest(r, t.ID)
	if err != nil {
		return err
	}
	s, ok, err := p.usableSession(r, t, ar)
	if err != nil {
		return err
	}
	if ok {
		return p.complete(w, r, t.ID, ar.ID, s)
	}
	if slices.Contains(ar.Prompt, "none") {
		p.cfg.Protocol.Reject(w, r, ar, "login_required", "the user must sign in")
		return nil
	}
	if slices.Contains(ar.Prompt, "create") && r.URL.Query().Get(signup.HaveAccount) == "" {
		http.Redirect(w, r, p.cfg.URLs.TenantPath(t.ID, pathSignUp+"?id="+url.QueryEscape(ar.ID)), http.StatusSeeOther)
		return nil
	}
	return p.renderSignIn(w, r, t, ar, ar.LoginHint, "")
}

func (p *Pages) renderSignIn(w http.ResponseWriter, r *http.Request, t storage.Tenant, ar storage.AuthRequest, email, msg string) error {
	app, err := p.app(r.Context(), t, ar.ClientID)
	if err != nil {
		return err
	}
	q := "?id=" + url.QueryEscape(ar.ID)
	var create, forgot string
	if t.ID == storage.CommonTenantID || (t.Policy.AllowedToSignUpEmailBasedSubscriptions && app.SignUpEnabled) {
		create = p.cfg.URLs.TenantPath(t.ID, pathSignUp+q)
	}
	if t.ID == storage.CommonTenantID || t.Policy.AllowedToUseSSPR {
		forgot = p.cfg.URLs.TenantPath(t.ID, pathReset+q)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return p.cfg.Templates.SignIn(w, templates.SignInPage{
		CreateAccountURL:  create,
		ForgotPasswordURL: forgot,
		TenantName:        t.Name,
		TenantDisplayName: t.DisplayName,
		AppName:           app.DisplayName,
		Action:            p.cfg.URLs.TenantPath(t.ID, pathLogin+"?id="+url.QueryEscape(ar.ID)),
		CSRFToken:         p.csrf.token(w, r, "login:"+ar.ID),
		Email:             email,
		Error:             msg,
	})
}

func (p *Pages) signIn(w http.ResponseWriter, r *http.Request) error {
	t, _ := tenancy.FromContext(r.Context())
	ar, err := p.authRequest(r, t.ID)
	if err != nil {
		return err
	}
	if !p.csrf.valid(r, "login:"+ar.ID, r.PostFormValue(templates.FieldCSRF)) {
		return fault.New(fault.Forbidden, "csrfFailed", "The form expired. Go back, reload the page and try again.")
	}
	email := r.PostFormValue(templates.FieldEmail)
	home, err := p.homeTenant(r.Context(), t, email)
	if err != nil {
		return err
	}
	u, err := p.authenticate(w, r, home, email)
	if err != nil {
		e := fault.From(err)
		if e.Kind != fault.Unauthenticated && e.Kind != fault.TooMany && e.Kind != fault.Invalid {
			return err
		}
		if s := fault.RetryAfterSeconds(e); s > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(s))
		}
		if e.Kind == fault.TooMany {
			w.WriteHeader(http.StatusTooManyRequests)
		}
		return p.renderSignIn(w, r, t, ar, email, e.Message)
	}
	now := p.cfg.Clock()
	return p.startSession(w, r, t.ID, ar.ID, u.ID, homeIfOther(t, home), now)
}

// startSession replaces the browser's SSO session with a new one for the
// user and completes the authorization request.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, tenantID, authRequestID, userID, home string, now time.Time) error {
	s, err := p.newSession(w, r, tenantID, userID, home)
	if err != nil {
		return err
	}
	return p.complete(w, r, tenantID, authRequestID, s)
}

// newSession replaces the browser's SSO session in the tenant with a new
// one for the user (a fresh cookie value: no session fixation).
func (p *Pages) newSession(w http.ResponseWriter, r *http.Request, tenantID, userID, home string) (storage.Session, error) {
	if old := p.cfg.Cookies.Read(r, tenantID); old != "" {
		if err := p.cfg.Store.DeleteSession(r.Context(), tenantID, old); err != nil {
			return storage.Session{}, err
		}
	}
	now := p.cfg.Clock()
	exp := now.Add(p.cfg.SessionLifetime)
	s := storage.Session{TenantID: tenantID, HomeTenantID: home, UserID: userID, AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: exp}
	s.Hash = p.cfg.Cookies.Issue(w, tenantID, exp)
	return s, p.cfg.Store.CreateSession(r.Context(), tenantID, s)
}

func homeIfOther(t storage.Tenant, home string) string {
	if home == t.ID {
		return ""
	}
	return home
}

// homeTenant is where the account of email lives: the tenant itself, or on
// the common issuer the workforce tenant that verified the address's
// domain. An unknown domain gives the same answer as a wrong password.
func (p *Pages) homeTenant(ctx context.Context, t storage.Tenant, email string) (string, error) {
	if t.ID != storage.CommonTenantID {
		return t.ID, nil
	}
	mail, err := account.NormalizeEmail(email)
	if err != nil {
		return t.ID, nil // the sign-in answers invalidCredentials
	}
	home, err := p.cfg.Store.TenantIDByDomain(ctx, account.Domain(mail))
	if errors.Is(err, storage.ErrNotFound) {
		return t.ID, nil // no users live in the common tenant: invalidCredentials
	}
	return home, err
}

// app returns the client an authorization request is for; on the common
// issuer it lives in its own tenant.
func (p *Pages) app(ctx context.Context, t storage.Tenant, clientID string) (storage.App, error) {
	tid := t.ID
	if tid == storage.CommonTenantID {
		var err error
		if tid, err = p.cfg.Store.AppTenant(ctx, clientID); err != nil {
			return storage.App{}, err
		}
	}
	return p.cfg.Store.GetApp(ctx, tid, clientID)
}

// complete records who signed in on the authorization request, asks for
// consent when the user has not granted the app what it requests, and
// sends the browser to the protocol's callback, which issues the code.
func (p *Pages) complete(w http.ResponseWriter, r *http.Request, tenantID, id string, s storage.Session) error {
	ar, err := p.cfg.Store.UpdateAuthRequest(r.Context(), tenantID, id, func(ar *storage.AuthRequest) error {
		if ar.Done && ar.UserID != s.UserID {
			return expired()
		}
		ar.UserID, ar.HomeTenantID, ar.AuthTime, ar.AMR = s.UserID, s.HomeTenantID, s.AuthTime, s.AMR
		return nil
	})
	if err != nil {
		return err
	}
	t, _ := tenancy.FromContext(r.Context())
	need, err := p.needsConsent(r.Context(), t, ar)
	if err != nil {
		return err
	}
	if need {
		if slices.Contains(ar.Prompt, "none") {
			p.cfg.Protocol.Reject(w, r, ar, "consent_required", "the user has not consented to the requested scopes")
			return nil
		}
		http.Redirect(w, r, p.cfg.URLs.TenantPath(tenantID, pathConsent+"?id="+url.QueryEscape(id)), http.StatusSeeOther)
		return nil
	}
	return p.release(w, r, tenantID, id)
}

// release marks the authorization request done and sends the browser to
// the protocol's callback.
func (p *Pages) release(w http.ResponseWriter, r *http.Request, tenantID, id string) error {
	_, err := p.cfg.Store.UpdateAuthRequest(r.Context(), tenantID, id, func(ar *storage.AuthRequest) error {
		if ar.UserID == "" {
			return expired()
		}
		ar.Done = true
		return nil
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, p.cfg.URLs.TenantPath(tenantID, "/authorize/callback?id="+id), http.StatusSeeOther)
	return nil
}

func (p *Pages) showLogout(w http.ResponseWriter, r *http.Request) error {
	t, _ := tenancy.FromContext(r.Context())
	id := r.FormValue("id")
	if id == "" || len(id) > 128 {
		return fault.New(fault.NotFound, "logoutExpired", "This sign-out link has expired.")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return p.cfg.Templates.LogoutConfirm(w, templates.LogoutPage{
		Action:    p.cfg.URLs.TenantPath(t.ID, pathLogout),
		CSRFToken: p.csrf.token(w, r, "logout:"+id),
		Hidden:    []templates.HiddenField{{Name: "id", Value: id}},
	})
}

func (p *Pages) logout(w http.ResponseWriter, r *http.Request) error {
	t, _ := tenancy.FromContext(r.Context())
	id := r.PostFormValue("id")
	if !p.csrf.valid(r, "logout:"+id, r.PostFormValue(templates.FieldCSRF)) {
		return fault.New(fault.Forbidden, "csrfFailed", "The form expired. Go back, reload the page and try again.")
	}
	redirect, err := p.cfg.Protocol.ConsumeLogout(r.Context(), t.ID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return fault.New(fault.NotFound, "logoutExpired", "This sign-out link has expired.")
	}
	if err != nil {
		return err
	}
	if r.PostFormValue(templates.FieldDecision) == templates.DecisionSignOut {
		if h := p.cfg.Cookies.Read(r, t.ID); h != "" {
			if err := p.cfg.Store.DeleteSession(r.Context(), t.ID, h); err != nil {
				return err
			}
		}
		p.cfg.Cookies.Clear(w, t.ID)
		http.Redirect(w, r, redirect, http.StatusSeeOther)
		return nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return p.cfg.Templates.Error(w, templates.ErrorPage{Title: "You are still signed in", Message: "Nothing was changed. You can close this window."})
}

// clientIP is the TCP peer. Foyer does not trust forwarding headers; behind
// a proxy, per-IP limits count the proxy (documented in the README).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
