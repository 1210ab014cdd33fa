package templates

import (
	"io"
	"net/http"
)

// SignInPage is the data of the sign-in page.
type SignInPage struct {
	// TenantName is the tenant's slug; shown when TenantDisplayName is
	// empty.
	TenantName string
	// TenantDisplayName is the tenant's display name.
	TenantDisplayName string
	// AppName is the display name of the app the user signs in to; may
	// be empty.
	AppName string
	// Action is the URL the form posts to.
	Action string
	// CSRFToken is posted back in FieldCSRF.
	CSRFToken string
	// Email prefills the email address input (FieldEmail).
	Email string
	// Error is a plain-language message shown above the form, or "".
	Error string
	// CreateAccountURL links to sign-up; no link when empty.
	CreateAccountURL string
	// ForgotPasswordURL links to password reset; no link when empty.
	ForgotPasswordURL string
}

// SignIn renders the sign-in page: an email address and a password
// (posted as FieldEmail and FieldPassword), a "Sign in" button, and
// links to sign-up and password reset when their URLs are set.
func (s *Set) SignIn(w io.Writer, p SignInPage) error {
	return render(w, s.signIn, p)
}

// ErrorPage is the data of the error page.
type ErrorPage struct {
	// Title is the heading; "Something went wrong" when empty.
	Title string
	// Message explains, in plain language, what happened and what to do.
	Message string
	// Code is the stable reason code (e.g. "signUpDisabled"), shown small.
	Code string
	// RequestID identifies the request for support, shown small.
	RequestID string
}

// Error renders the error page. It does not set the HTTP status.
func (s *Set) Error(w io.Writer, p ErrorPage) error {
	if p.Title == "" {
		p.Title = "Something went wrong"
	}
	return render(w, s.errorPage, p)
}

// ContentSecurityPolicy is the policy the pages are served under: their
// one stylesheet from the same origin, nothing else, never framed.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// WriteError answers a browser with the error page and status: the one way
// an error reaches a browser, whichever layer refused the request. It sets
// the page headers (HTML, no-store, ContentSecurityPolicy, nosniff, no
// framing, no referrer) before the status.
func (s *Set) WriteError(w http.ResponseWriter, status int, p ErrorPage) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	return s.Error(w, p)
}

// HiddenField is a name and value posted back unchanged by a form.
type HiddenField struct {
	// Name and Value are the field's name and value; both are escaped.
	Name, Value string
}

// LogoutPage is the data of the sign-out confirmation page.
type LogoutPage struct {
	// Action is the URL the form posts to.
	Action string
	// CSRFToken is posted back in FieldCSRF.
	CSRFToken string
	// Hidden are posted back in this order, for example the end-session
	// request's parameters. Names must differ from FieldCSRF and
	// FieldDecision.
	Hidden []HiddenField
	// AppName is the display name of the app the user signs out of; may
	// be empty.
	AppName string
}

// LogoutConfirm renders the sign-out confirmation page. Its "Sign out"
// and "Cancel" buttons post FieldDecision as DecisionSignOut or
// DecisionCancel.
func (s *Set) LogoutConfirm(w io.Writer, p LogoutPage) error {
	return render(w, s.logout, p)
}

// ConsentScope is one scope shown on the consent page.
type ConsentScope struct {
	// Name is the scope's identifier, e.g. "User.Read".
	Name string
	// Description says in plain language what the scope allows; the Name
	// is shown instead when it is empty.
	Description string
}

// ConsentPage is the data of the consent page.
type ConsentPage struct {
	// AppName is the display name of the app asking for access.
	AppName string
	// Scopes are the scopes the app asks for, in display order.
	Scopes []ConsentScope
	// Action is the URL the form posts to.
	Action string
	// CSRFToken is posted back in FieldCSRF.
	CSRFToken string
}

// Consent renders the consent page. Its "Accept" and "Cancel" buttons post
// FieldDecision as DecisionAccept or DecisionCancel.
func (s *Set) Consent(w io.Writer, p ConsentPage) error {
	return render(w, s.consent, p)
}

// FormField is one labelled input of a FormPage.
type FormField struct {
	// Name is the posted field name; Label its visible label.
	Name, Label string
	// Type is the input type ("text" when empty): email, password, …
	Type string
	// Value prefills the input (never for passwords).
	Value string
	// Autocomplete and InputMode are the HTML attributes, when set.
	Autocomplete, InputMode string
	// Hint is a line of help below the input.
	Hint     string
	Required bool
}

// FormAction is a second, button-only form on a page (e.g. "Send a new
// code").
type FormAction struct {
	Action, Submit string
	Hidden         []HiddenField
}

// Link is a link below a form.
type Link struct{ URL, Text string }

// FormPage is a one-form page of a multi-step flow (sign-up, password
// reset): a title, fields with labels, one submit button, and optionally a
// secondary button-only form and links.
type FormPage struct {
	TenantName string
	Title      string
	Lead       string
	// Notice is a neutral status line (e.g. "We sent a code to …").
	Notice string
	// Error is shown as an alert above the form.
	Error     string
	Action    string
	CSRFToken string
	Hidden    []HiddenField
	Fields    []FormField
	Submit    string
	Secondary *FormAction
	Links     []Link
}

// Form renders a FormPage.
func (s *Set) Form(w io.Writer, p FormPage) error {
	return render(w, s.form, p)
}

// AccountApp is an app the user granted access to, on the account page.
type AccountApp struct {
	Name      string
	ConsentID string
	// Scopes are plain-language descriptions of what the app may do.
	Scopes []string
}

// AccountPage is the data of the "My account" page: the editable profile
// fields, the apps with their grants (each with a revoke button), and the
// change-password form. Its forms post currentPassword/newPassword, the
// profile field names, and "consent".
type AccountPage struct {
	TenantName     string
	Email          string
	Notice, Error  string
	CSRFToken      string
	ProfileAction  string
	Profile        []FormField
	RevokeAction   string
	Apps           []AccountApp
	PasswordAction string
	SignOutAction  string
}

// Account renders the "My account" page.
func (s *Set) Account(w io.Writer, p AccountPage) error {
	return render(w, s.account, p)
}
