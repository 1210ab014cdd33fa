package web

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// pathConsent is the consent page.
const pathConsent = "/consent"

// scopeText says in plain words what a scope lets an app do.
var scopeText = map[string]string{
	"openid":                         "Sign you in",
	"profile":                        "See your name",
	"email":                          "See your email address",
	"offline_access":                 "Keep the access you give it while you are away",
	"User.Read":                      "Read your profile",
	"User.ReadWrite":                 "Read and change your profile",
	"Directory.AccessAsUser.All":     "Change your password, and act as you in the directory",
	"Policy.Read.All":                "Read your organisation's policies (administrators)",
	"Policy.ReadWrite.Authorization": "Change your organisation's sign-up and permission policy (administrators)",
	"User.ReadWrite.All":             "Read and change every user's profile (administrators)",
	"User.Invite.All":                "Invite guests (administrators)",
	"Domain.ReadWrite.All":           "Manage your organisation's domains (administrators)",
	"Application.ReadWrite.All":      "Manage your organisation's applications (administrators)",
	"AuditLog.Read.All":              "Read your organisation's audit log (administrators)",
}

// home is the tenant an authorization request's user lives in.
func home(ar storage.AuthRequest) string {
	if ar.HomeTenantID != "" {
		return ar.HomeTenantID
	}
	return ar.TenantID
}

// needsConsent reports whether the user must be asked before the app gets
// what it requests: prompt=consent always asks; an app the tenant's admin
// pre-consented does not need it; otherwise the user's earlier grant must
// cover every requested scope.
func (p *Pages) needsConsent(ctx context.Context, t storage.Tenant, ar storage.AuthRequest) (bool, error) {
	if slices.Contains(ar.Prompt, "consent") {
		return true, nil
	}
	app, err := p.app(ctx, t, ar.ClientID)
	if err != nil {
		return false, err
	}
	if app.PreConsented && app.TenantID == home(ar) {
		return false, nil
	}
	c, err := p.cfg.Store.GetConsent(ctx, home(ar), ar.UserID, ar.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range ar.Scopes {
		if !slices.Contains(c.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// consentRequest loads the authorization request awaiting consent, and
// checks this browser holds the session of the user it names.
func (p *Pages) consentRequest(r *http.Request) (storage.Tenant, storage.AuthRequest, error) {
	t, _ := tenancy.FromContext(r.Context())
	ar, err := p.authRequest(r, t.ID)
	if err != nil {
		return t, ar, err
	}
	h := p.cfg.Cookies.Read(r, t.ID)
	if ar.UserID == "" || ar.Done || h == "" {
		return t, ar, expired()
	}
	s, err := p.cfg.Store.GetSession(r.Context(), t.ID, h)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && s.UserID != ar.UserID) {
		return t, ar, expired()
	}
	return t, ar, err
}

func (p *Pages) showConsent(w http.ResponseWriter, r *http.Request) error {
	t, ar, err := p.consentRequest(r)
	if err != nil {
		return err
	}
	app, err := p.app(r.Context(), t, ar.ClientID)
	if err != nil {
		return err
	}
	page := templates.ConsentPage{
		AppName:   app.DisplayName,
		Action:    p.cfg.URLs.TenantPath(t.ID, pathConsent+"?id="+ar.ID),
		CSRFToken: p.csrf.token(w, r, "consent:"+ar.ID),
	}
	for _, s := range ar.Scopes {
		page.Scopes = append(page.Scopes, templates.ConsentScope{Name: s, Description: scopeText[s]})
	}
	p.html(w, http.StatusOK)
	return p.cfg.Templates.Consent(w, page)
}

func (p *Pages) decideConsent(w http.ResponseWriter, r *http.Request) error {
	t, ar, err := p.consentRequest(r)
	if err != nil {
		return err
	}
	if !p.csrf.valid(r, "consent:"+ar.ID, r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	switch r.PostFormValue(templates.FieldDecision) {
	case templates.DecisionAccept:
	case templates.DecisionCancel:
		p.cfg.Protocol.Reject(w, r, ar, "access_denied", "the user declined to grant access")
		return nil
	default:
		return fault.New(fault.Invalid, "invalidDecision", "Choose Accept or Cancel.")
	}
	_, err = p.cfg.Store.PutConsent(r.Context(), home(ar), storage.Consent{
		ClientID: ar.ClientID, UserID: ar.UserID, Scopes: ar.Scopes, ConsentType: "Principal", CreatedAt: p.cfg.Clock().UTC(),
	})
	if err != nil {
		return err
	}
	return p.release(w, r, t.ID, ar.ID)
}
