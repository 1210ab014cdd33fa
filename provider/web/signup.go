package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/signup"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// SignUp runs the email-code flows (provider/signup).
type SignUp interface {
	Begin(ctx context.Context, in signup.Start) (storage.Flow, error)
	Flow(ctx context.Context, tenantID, id, binding string) (storage.Flow, error)
	// The steps take the flow as Flow returned it for this request.
	Resend(ctx context.Context, f storage.Flow, ip string) (storage.Flow, error)
	Verify(ctx context.Context, f storage.Flow, code string) (storage.Flow, error)
	Complete(ctx context.Context, f storage.Flow, p signup.Profile) (signup.Result, error)
	Attributes(ctx context.Context, f storage.Flow) ([]account.ProfileField, error)
	CompleteReset(ctx context.Context, f storage.Flow, newPassword string) (signup.Result, error)
}

// Paths of the sign-up and password-reset pages.
const (
	pathSignUp        = "/signup"
	pathSignUpCode    = "/signup/code"
	pathSignUpResend  = "/signup/resend"
	pathSignUpProfile = "/signup/profile"
	pathReset         = "/reset"
	pathResetCode     = "/reset/code"
	pathResetResend   = "/reset/resend"
	pathResetPassword = "/reset/password"
)

// Form field names of these pages.
const (
	fieldFlow        = "flow"
	fieldCode        = "code"
	fieldDisplayName = "displayName"
	fieldGivenName   = "givenName"
	fieldSurname     = "surname"
)

func prefix(kind string) string {
	if kind == storage.FlowPasswordReset {
		return pathReset
	}
	return pathSignUp
}

func (p *Pages) html(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
}

// formError renders page again with the error's message when the error is
// the person's to fix (a wrong code, a weak password, a limit); it returns
// other errors for the error page.
func (p *Pages) formError(w http.ResponseWriter, err error, render func(msg string) error) error {
	e := fault.From(err)
	switch e.Kind {
	case fault.Invalid, fault.TooMany:
	default:
		return err
	}
	if s := fault.RetryAfterSeconds(e); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	p.html(w, fault.Status(e))
	return render(e.Message)
}

// --- step 1: the address ---

func (p *Pages) showSignUp(w http.ResponseWriter, r *http.Request) error {
	return p.showStart(w, r, storage.FlowSignUp, "")
}

func (p *Pages) showReset(w http.ResponseWriter, r *http.Request) error {
	return p.showStart(w, r, storage.FlowPasswordReset, "")
}

func (p *Pages) showStart(w http.ResponseWriter, r *http.Request, kind, msg string) error {
	t, _ := tenancy.FromContext(r.Context())
	ar, err := p.authRequest(r, t.ID)
	if err != nil {
		return err
	}
	page := templates.FormPage{
		TenantName: cmpOr(t.DisplayName, t.Name),
		Title:      "Create your account",
		Lead:       "Enter your email address. We will send you a code to confirm it.",
		Action:     p.cfg.URLs.TenantPath(t.ID, prefix(kind)+"?id="+url.QueryEscape(ar.ID)),
		CSRFToken:  p.csrf.token(w, r, "start:"+ar.ID),
		Error:      msg,
		Fields: []templates.FormField{{Name: templates.FieldEmail, Label: "Email address", Type: "email",
			Autocomplete: "email", Required: true, Value: r.PostFormValue(templates.FieldEmail)}},
		Submit: "Send code",
		Links:  []templates.Link{{URL: signup.SignInURL(p.cfg.URLs, t.ID, ar.ID), Text: "I already have an account"}},
	}
	if t.ID == storage.CommonTenantID {
		page.Lead = "Enter your work email address. We will send you a code to confirm it."
	}
	if kind == storage.FlowPasswordReset {
		page.Title = "Reset your password"
		page.Lead = "Enter the email address of your account. We will send you a code to confirm it is yours."
		page.Links = []templates.Link{{URL: signup.SignInURL(p.cfg.URLs, t.ID, ar.ID), Text: "Back to sign in"}}
	}
	p.html(w, http.StatusOK)
	return p.cfg.Templates.Form(w, page)
}

func (p *Pages) startSignUp(w http.ResponseWriter, r *http.Request) error {
	return p.start(w, r, storage.FlowSignUp)
}

func (p *Pages) startReset(w http.ResponseWriter, r *http.Request) error {
	return p.start(w, r, storage.FlowPasswordReset)
}

func (p *Pages) start(w http.ResponseWriter, r *http.Request, kind string) error {
	t, _ := tenancy.FromContext(r.Context())
	ar, err := p.authRequest(r, t.ID)
	if err != nil {
		return err
	}
	if !p.csrf.valid(r, "start:"+ar.ID, r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	path := signup.PathApp
	if t.ID == storage.CommonTenantID {
		path = signup.PathJoin
	}
	f, err := p.cfg.SignUp.Begin(r.Context(), signup.Start{
		TenantID: t.ID, Kind: kind, Path: path, ClientID: ar.ClientID, AuthRequestID: ar.ID,
		Email: r.PostFormValue(templates.FieldEmail), IP: clientIP(r), Binding: p.csrf.binding(r),
	})
	if err != nil {
		return p.formError(w, err, func(msg string) error {
			w = headerOnly{w}
			return p.showStart(w, r, kind, msg)
		})
	}
	http.Redirect(w, r, p.cfg.URLs.TenantPath(t.ID, prefix(kind)+"/code?flow="+url.QueryEscape(f.ID)), http.StatusSeeOther)
	return nil
}

// headerOnly lets a render after formError write its body without a
// second WriteHeader call reaching the client.
type headerOnly struct{ http.ResponseWriter }

func (h headerOnly) WriteHeader(int) {}

func csrfFailed() error {
	return fault.New(fault.Forbidden, "csrfFailed", "The form expired. Go back, reload the page and try again.")
}

// flow loads the flow named by the request for this browser.
func (p *Pages) flow(r *http.Request) (storage.Tenant, storage.Flow, error) {
	t, _ := tenancy.FromContext(r.Context())
	f, err := p.cfg.SignUp.Flow(r.Context(), t.ID, r.FormValue(fieldFlow), p.csrf.binding(r))
	return t, f, err
}

// --- step 2: the code ---

func (p *Pages) showCode(w http.ResponseWriter, r *http.Request) error {
	t, f, err := p.flow(r)
	if err != nil {
		return err
	}
	notice := ""
	if r.URL.Query().Get("resent") != "" {
		notice = "We sent you a new code."
	}
	return p.renderCode(w, r, t, f, notice, "")
}

func (p *Pages) renderCode(w http.ResponseWriter, r *http.Request, t storage.Tenant, f storage.Flow, notice, msg string) error {
	base := prefix(f.Kind)
	hidden := []templates.HiddenField{{Name: fieldFlow, Value: f.ID}}
	p.html(w, http.StatusOK)
	return p.cfg.Templates.Form(w, templates.FormPage{
		TenantName: cmpOr(t.DisplayName, t.Name),
		Title:      "Check your email",
		Lead:       fmt.Sprintf("We sent an email to %s. Enter the 8-digit code from it. The code is valid for 10 minutes.", f.Email),
		Notice:     notice,
		Error:      msg,
		Action:     p.cfg.URLs.TenantPath(t.ID, base+"/code"),
		CSRFToken:  p.csrf.token(w, r, "flow:"+f.ID),
		Hidden:     hidden,
		Fields: []templates.FormField{{Name: fieldCode, Label: "Verification code", InputMode: "numeric",
			Autocomplete: "one-time-code", Required: true}},
		Submit:    "Verify",
		Secondary: &templates.FormAction{Action: p.cfg.URLs.TenantPath(t.ID, base+"/resend"), Submit: "Send a new code", Hidden: hidden},
	})
}

func (p *Pages) verifyCode(w http.ResponseWriter, r *http.Request) error {
	t, f, err := p.flow(r)
	if err != nil {
		return err
	}
	if !p.csrf.valid(r, "flow:"+f.ID, r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	g, err := p.cfg.SignUp.Verify(r.Context(), f, r.PostFormValue(fieldCode))
	if err != nil {
		if fault.From(err).Code == "tooManyAttempts" && fault.From(err).Kind == fault.Forbidden {
			return err
		}
		return p.formError(w, err, func(msg string) error { return p.renderCode(headerOnly{w}, r, t, f, "", msg) })
	}
	next := pathSignUpProfile
	if g.Kind == storage.FlowPasswordReset {
		next = pathResetPassword
	}
	http.Redirect(w, r, p.cfg.URLs.TenantPath(t.ID, next+"?flow="+url.QueryEscape(g.ID)), http.StatusSeeOther)
	return nil
}

func (p *Pages) resend(w http.ResponseWriter, r *http.Request) error {
	t, f, err := p.flow(r)
	if err != nil {
		return err
	}
	if !p.csrf.valid(r, "flow:"+f.ID, r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	if _, err := p.cfg.SignUp.Resend(r.Context(), f, clientIP(r)); err != nil {
		return p.formError(w, err, func(msg string) error { return p.renderCode(headerOnly{w}, r, t, f, "", msg) })
	}
	http.Redirect(w, r, p.cfg.URLs.TenantPath(t.ID, prefix(f.Kind)+"/code?resent=1&flow="+url.QueryEscape(f.ID)), http.StatusSeeOther)
	return nil
}

// --- step 3: the account ---

func (p *Pages) showProfile(w http.ResponseWriter, r *http.Request) error {
	t, f, err := p.flow(r)
	if err != nil {
		return err
	}
	return p.renderProfile(w, r, t, f, "")
}

func (p *Pages) renderProfile(w http.ResponseWriter, r *http.Request, t storage.Tenant, f storage.Flow, msg string) error {
	field := func(name, label, auto string) templates.FormField {
		return templates.FormField{Name: name, Label: label, Autocomplete: auto, Required: true, Value: r.PostFormValue(name)}
	}
	fields := []templates.FormField{
		field(fieldDisplayName, "Display name", "nickname"),
		field(fieldGivenName, "Given name", "given-name"),
		field(fieldSurname, "Surname", "family-name"),
	}
	extra, err := p.cfg.SignUp.Attributes(r.Context(), f)
	if err != nil {
		return err
	}
	for _, pf := range extra {
		fields = append(fields, field(pf.Name, pf.Label, ""))
	}
	fields = append(fields, templates.FormField{Name: templates.FieldPassword, Label: "Password", Type: "password", Autocomplete: "new-password", Required: true,
		Hint: "Use a long phrase: it is easy to remember and hard to guess. Very common passwords are refused."})
	p.html(w, http.StatusOK)
	return p.cfg.Templates.Form(w, templates.FormPage{
		TenantName: cmpOr(t.DisplayName, t.Name),
		Title:      "Finish creating your account",
		Lead:       "Your email address " + f.Email + " is confirmed.",
		Error:      msg,
		Action:     p.cfg.URLs.TenantPath(t.ID, pathSignUpProfile),
		CSRFToken:  p.csrf.token(w, r, "flow:"+f.ID),
		Hidden:     []templates.HiddenField{{Name: fieldFlow, Value: f.ID}},
		Fields:     fields,
		Submit:     "Create account",
	})
}

func (p *Pages) completeSignUp(w http.ResponseWriter, r *http.Request) error {
	t, f, err := p.flow(r)
	if err != nil {
		return err
	}
	if !p.csrf.valid(r, "flow:"+f.ID, r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	extra := map[string]string{}
	for _, pf := range account.SelfUpdatable {
		if r.PostForm.Has(pf.Name) {
			extra[pf.Name] = r.PostFormValue(pf.Name)
		}
	}
	res, err := p.cfg.SignUp.Complete(r.Context(), f, signup.Profile{
		Password:    r.PostFormValue(templates.FieldPassword),
		DisplayName: r.PostFormValue(fieldDisplayName),
		GivenName:   r.PostFormValue(fieldGivenName),
		Surname:     r.PostFormValue(fieldSurname),
		Extra:       extra,
	})
	if err != nil {
		return p.formError(w, err, func(msg string) error { return p.renderProfile(headerOnly{w}, r, t, f, msg) })
	}
	// The new account is signed in: the original authorization request
	// completes without a second sign-in.
	return p.startSession(w, r, t.ID, f.AuthRequestID, res.User.ID, homeIfOther(t, res.HomeTenantID), p.cfg.Clock())
}

// --- reset: the new password ---

func (p *Pages) showNewPassword(w http.ResponseWriter, r *http.Request) error {
	t, f, err := p.flow(r)
	if err != nil {
		return err
	}
	return p.renderNewPassword(w, r, t, f, "")
}

func (p *Pages) renderNewPassword(w http.ResponseWriter, r *http.Request, t storage.Tenant, f storage.Flow, msg string) error {
	p.html(w, http.StatusOK)
	return p.cfg.Templates.Form(w, templates.FormPage{
		TenantName: cmpOr(t.DisplayName, t.Name),
		Title:      "Choose a new password",
		Lead:       "You will be signed out everywhere else.",
		Error:      msg,
		Action:     p.cfg.URLs.TenantPath(t.ID, pathResetPassword),
		CSRFToken:  p.csrf.token(w, r, "flow:"+f.ID),
		Hidden:     []templates.HiddenField{{Name: fieldFlow, Value: f.ID}},
		Fields: []templates.FormField{{Name: templates.FieldPassword, Label: "New password", Type: "password",
			Autocomplete: "new-password", Required: true}},
		Submit: "Reset password",
	})
}

func (p *Pages) completeReset(w http.ResponseWriter, r *http.Request) error {
	t, f, err := p.flow(r)
	if err != nil {
		return err
	}
	if !p.csrf.valid(r, "flow:"+f.ID, r.PostFormValue(templates.FieldCSRF)) {
		return csrfFailed()
	}
	if _, err := p.cfg.SignUp.CompleteReset(r.Context(), f, r.PostFormValue(templates.FieldPassword)); err != nil {
		return p.formError(w, err, func(msg string) error { return p.renderNewPassword(headerOnly{w}, r, t, f, msg) })
	}
	if old := p.cfg.Cookies.Read(r, t.ID); old != "" {
		if err := p.cfg.Store.DeleteSession(r.Context(), t.ID, old); err != nil {
			return err
		}
		p.cfg.Cookies.Clear(w, t.ID)
	}
	http.Redirect(w, r, signup.SignInURL(p.cfg.URLs, t.ID, f.AuthRequestID), http.StatusSeeOther)
	return nil
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}
