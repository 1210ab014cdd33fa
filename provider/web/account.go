package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// Paths of the "My account" pages (seed 003: read and update your own
// profile, change your password, revoke consent to applications).
const (
	pathAccount         = "/account"
	pathAccountSignIn   = "/account/signin"
	pathAccountProfile  = "/account/profile"
	pathAccountRevoke   = "/account/revoke"
	pathAccountPassword = "/account/password"
	pathAccountSignOut  = "/account/signout"
)

// AccountStore is what the account pages read and write.
type AccountStore interface {
	GetUser(ctx context.Context, tenantID, userID string) (storage.User, error)
	UpdateUser(ctx context.Context, tenantID, userID string, fn func(*storage.User) error) (storage.User, error)
	ListConsents(ctx context.Context, tenantID, userID string) ([]storage.Consent, error)
	DeleteConsent(ctx context.Context, tenantID, userID, consentID string) (storage.Consent, error)
	RevokeUserGrants(ctx context.Context, tenantID, userID, clientID string) (int, error)
}

// Passwords changes a signed-in user's password (account.Passwords).
type Passwords interface {
	Change(ctx context.Context, c account.PasswordChange) error
}

// accountNotices are the one-line confirmations after each action.
var accountNotices = map[string]string{
	"profile":  "Your profile was saved.",
	"password": "Your password was changed. You were signed out everywhere else.",
	"revoked":  "Access was revoked. The app must ask you again.",
}

// signedIn returns the browser's session and its user, or ok=false.
func (p *Pages) signedIn(r *http.Request, t storage.Tenant) (storage.Session, storage.User, bool, error) {
	h := p.cfg.Cookies.Read(r, t.ID)
	if h == "" {
		return storage.Session{}, storage.User{}, false, nil
	}
	s, err := p.cfg.Store.GetSession(r.Context(), t.ID, h)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, storage.User{}, false, nil
	}
	if err != nil {
		return storage.Session{}, storage.User{}, false, err
	}
	u, err := p.cfg.Store.GetUser(r.Context(), sessionHome(s), s.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !u.AccountEnabled) {
		return storage.Session{}, storage.User{}, false, nil
	}
	return s, u, err == nil, err
}

func sessionHome(s storage.Session) string {
	if s.HomeTenantID != "" {
		return s.HomeTenantID
	}
	return s.TenantID
}

func (p *Pages) showAccount(w http.ResponseWriter, r *http.Request) error {
	t, _ := tenancy.FromContext(r.Context())
	s, u, ok, err := p.signedIn(r, t)
	if err != nil {
		return err
	}
	if !ok {
		return p.renderAccountSignIn(w, r, t, "")
	}
	return p.renderAccount(w, r, t, s, u, accountNotices[r.URL.Query().Get("done")], "")
}

func (p *Pages) renderAccountSignIn(w http.ResponseWriter, r *http.Request, t storage.Tenant, msg string) error {
	p.html(w, http.StatusOK)
	return p.cfg.Templates.Form(w, templates.FormPage{
		TenantName: cmpOr(t.DisplayName, t.Name),
		Title:      "Sign in to your account",
		Error:      msg,
		Action:     p.cfg.URLs.TenantPath(t.ID, pathAccountSignIn),
		CSRFToken:  p.csrf.token(w, r, "account"),
		Fields: []templates.FormField{
			{Name: templates.FieldEmail, Label: "Email address", Type: "email", Autocomplete: "username", Required: true, Value: r.PostFormValue(templates.FieldEmail)},
			{Name: templates.FieldPassword, Label: "Password", Type: "password", Autocomplete: "current-password", Required: true},
		},
		Submit: "Sign in",
	})
}

func (p *Pages) renderAccount(w http.ResponseWriter, r *http.Request, t storage.Tenant, s storage.Session, u storage.User, notice, msg string) error {
	page := templates.AccountPage{
		TenantName: cmpOr(t.DisplayName, t.Name), Email: cmpOr(u.Mail, u.UserPrincipalName),
		Notice: notice, Error: msg, CSRFToken: p.csrf.token(w, r, "account"),
		ProfileAction:  p.cfg.URLs.TenantPath(t.ID, pathAccountProfile),
		RevokeAction:   p.cfg.URLs.TenantPath(t.ID, pathAccountRevoke),
		PasswordAction: p.cfg.URLs.TenantPath(t.ID, pathAccountPassword),
		SignOutAction:  p.cfg.URLs.TenantPath(t.ID, pathAccountSignOut),
	}
	for _, f := range account.SelfUpdatable {
		v := *account.ProfileValue(&u, f.Name)
		if r.Method == http.MethodPost && r.PostForm.Has(f.Name) {
			v = r.PostFormValue(f.Name) // show what was typed after an error
		}
		page.Profile = append(page.Profile, templates.FormField{Name: f.Name, Label: f.Label, Value: v, Required: f.Required})
	}
	consents, err := p.cfg.Store.ListConsents(r.Context(), sessionHome(s), u.ID)
	if err != nil {
		return err
	}
	for _, c := range consents {
		name := c.ClientID
		if app, err := p.app(r.Context(), storage.Tenant{ID: storage.CommonTenantID}, c.ClientID); err == nil && app.DisplayName != "" {
			name = app.DisplayName
		}
		a := templates.AccountApp{Name: name, ConsentID: c.ID}
		for _, sc := range c.Scopes {
			a.Scopes = append(a.Scopes, cmpOr(scopeText[sc], sc))
		}
		page.Apps = append(page.Apps, a)
	}
	if msg == "" {
		p.html(w, http.StatusOK)
	}
	return p.cfg.Templates.Account(w, page)
}

func (p *Pages) accountSignIn(w http.ResponseWriter, r *http.Request) error {
	t, _ := tenancy.FromContext(r.Context())
	if !p.csrf.valid(r, "account", r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	email := r.PostFormValue(templates.FieldEmail)
	home, err := p.homeTenant(r.Context(), t, email)
	if err != nil {
		return err
	}
	u, err := p.authenticate(w, r, home, email)
	if err != nil {
		return p.formError(w, unauthenticatedAsInvalid(err), func(msg string) error {
			return p.renderAccountSignIn(headerOnly{w}, r, t, msg)
		})
	}
	if _, err := p.newSession(w, r, t.ID, u.ID, homeIfOther(t, home)); err != nil {
		return err
	}
	http.Redirect(w, r, p.cfg.URLs.TenantPath(t.ID, pathAccount), http.StatusSeeOther)
	return nil
}

// unauthenticatedAsInvalid lets a wrong password be shown on the form.
func unauthenticatedAsInvalid(err error) error {
	if e := fault.From(err); e.Kind == fault.Unauthenticated {
		return fault.Wrap(err, fault.Invalid, e.Code, e.Message)
	}
	return err
}

// accountAction runs a POST of the account page for the signed-in user.
func (p *Pages) accountAction(w http.ResponseWriter, r *http.Request, do func(t storage.Tenant, s storage.Session, u storage.User) (string, error)) error {
	t, _ := tenancy.FromContext(r.Context())
	if !p.csrf.valid(r, "account", r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	s, u, ok, err := p.signedIn(r, t)
	if err != nil {
		return err
	}
	if !ok {
		return fault.New(fault.Unauthenticated, "signInRequired", "Your session has ended. Sign in again.")
	}
	done, err := do(t, s, u)
	if err != nil {
		return p.formError(w, err, func(msg string) error { return p.renderAccount(headerOnly{w}, r, t, s, u, "", msg) })
	}
	http.Redirect(w, r, p.cfg.URLs.TenantPath(t.ID, pathAccount+"?done="+done), http.StatusSeeOther)
	return nil
}

func (p *Pages) saveProfile(w http.ResponseWriter, r *http.Request) error {
	return p.accountAction(w, r, func(t storage.Tenant, s storage.Session, u storage.User) (string, error) {
		changes := map[string]string{}
		for _, f := range account.SelfUpdatable {
			if r.PostForm.Has(f.Name) {
				changes[f.Name] = r.PostFormValue(f.Name)
			}
		}
		_, err := account.UpdateProfile(r.Context(), p.cfg.Store, sessionHome(s), u.ID, changes)
		return "profile", err
	})
}

func (p *Pages) revokeConsent(w http.ResponseWriter, r *http.Request) error {
	return p.accountAction(w, r, func(t storage.Tenant, s storage.Session, u storage.User) (string, error) {
		c, err := p.cfg.Store.DeleteConsent(r.Context(), sessionHome(s), u.ID, r.PostFormValue("consent"))
		if errors.Is(err, storage.ErrNotFound) {
			return "", fault.New(fault.Invalid, "notFound", "That app no longer has access.")
		}
		if err != nil {
			return "", err
		}
		// The app's refresh and access tokens end now, whichever issuer
		// gave them.
		for _, tid := range []string{sessionHome(s), storage.CommonTenantID} {
			if _, err := p.cfg.Store.RevokeUserGrants(r.Context(), tid, u.ID, c.ClientID); err != nil {
				return "", err
			}
		}
		return "revoked", nil
	})
}

func (p *Pages) changePassword(w http.ResponseWriter, r *http.Request) error {
	return p.accountAction(w, r, func(t storage.Tenant, s storage.Session, u storage.User) (string, error) {
		home, err := p.cfg.Store.GetTenant(r.Context(), sessionHome(s))
		if err != nil {
			return "", err
		}
		err = p.cfg.Passwords.Change(r.Context(), account.PasswordChange{
			Tenant: home, User: u, Current: r.PostFormValue("currentPassword"), New: r.PostFormValue("newPassword"), IP: clientIP(r),
		})
		if err != nil {
			return "", err
		}
		// Every session ended; this browser keeps going with a new one.
		_, err = p.newSession(w, r, t.ID, u.ID, s.HomeTenantID)
		return "password", err
	})
}

func (p *Pages) accountSignOut(w http.ResponseWriter, r *http.Request) error {
	t, _ := tenancy.FromContext(r.Context())
	if !p.csrf.valid(r, "account", r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	if h := p.cfg.Cookies.Read(r, t.ID); h != "" {
		if err := p.cfg.Store.DeleteSession(r.Context(), t.ID, h); err != nil {
			return err
		}
	}
	p.cfg.Cookies.Clear(w, t.ID)
	http.Redirect(w, r, p.cfg.URLs.TenantPath(t.ID, pathLogoutDone), http.StatusSeeOther)
	return nil
}
