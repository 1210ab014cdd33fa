package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	ttemplate "text/template"
)

var (
	//go:embed html/*.html
	pageFiles embed.FS
	//go:embed email/*.html email/*.txt
	emailFiles embed.FS
	//go:embed static
	staticFiles embed.FS
)

// StylesheetName is the name of the stylesheet in Static().
const StylesheetName = "foyer.css"

// DefaultStaticURL is where pages expect Static() to be served unless New
// is given WithStaticURL.
const DefaultStaticURL = "/static"

// Names of the form fields the pages post. Handlers read these.
const (
	// FieldCSRF is the hidden field carrying the page's CSRF token.
	FieldCSRF = "csrf_token"
	// FieldEmail is the sign-in page's email address input.
	FieldEmail = "email"
	// FieldPassword is the sign-in page's password input.
	FieldPassword = "password"
	// FieldDecision is the name of the submit buttons of the logout and
	// consent pages; its value is one of the Decision* constants.
	FieldDecision = "decision"
)

// Values of FieldDecision.
const (
	// DecisionSignOut is posted by the logout page's "Sign out" button.
	DecisionSignOut = "signout"
	// DecisionAccept is posted by the consent page's "Accept" button.
	DecisionAccept = "accept"
	// DecisionCancel is posted by the "Cancel" buttons.
	DecisionCancel = "cancel"
)

// Static returns the static assets the pages link to (StylesheetName at
// its root). Serve it under the URL given to WithStaticURL, for example
// with http.StripPrefix("/static/", http.FileServerFS(templates.Static())).
func Static() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // "static" is a valid, embedded directory
	}
	return sub
}

// Option changes how New builds a Set.
type Option func(*options)

type options struct {
	staticURL string
}

// WithStaticURL sets the URL under which the application serves Static(),
// without a trailing slash: "/static" (the default), or an absolute URL
// such as "https://id.example.com/base/static" when the public URL has a
// path.
func WithStaticURL(u string) Option {
	return func(o *options) { o.staticURL = strings.TrimSuffix(u, "/") }
}

// Set is the parsed pages and emails. It is safe for concurrent use.
type Set struct {
	signIn, errorPage, logout, consent, form, account *template.Template

	verificationCode, accountExists, passwordReset emailTemplate
}

// New parses every page and email and executes each once with empty data.
// It returns an error naming the template if any fails to parse or
// execute.
func New(opts ...Option) (*Set, error) {
	o := options{staticURL: DefaultStaticURL}
	for _, opt := range opts {
		opt(&o)
	}
	return build(pageFiles, emailFiles, Static(), o)
}

// build is New on any file systems, so tests can feed it broken templates.
func build(pageFiles, emailFiles, static fs.FS, o options) (*Set, error) {
	css, err := fs.ReadFile(static, StylesheetName)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	sum := sha256.Sum256(css)
	// The version parameter changes whenever the stylesheet does, so the
	// application may serve it with a long max-age.
	stylesheet := o.staticURL + "/" + StylesheetName + "?v=" + hex.EncodeToString(sum[:6])

	funcs := template.FuncMap{
		"stylesheet":    func() string { return stylesheet },
		"csrfField":     func() string { return FieldCSRF },
		"emailField":    func() string { return FieldEmail },
		"passwordField": func() string { return FieldPassword },
		"decisionField": func() string { return FieldDecision },
		"signOut":       func() string { return DecisionSignOut },
		"accept":        func() string { return DecisionAccept },
		"cancel":        func() string { return DecisionCancel },
	}
	s := &Set{}
	pages := []struct {
		dst   **template.Template
		file  string
		empty any
	}{
		{&s.signIn, "signin.html", SignInPage{}},
		{&s.errorPage, "error.html", ErrorPage{}},
		{&s.logout, "logout.html", LogoutPage{}},
		{&s.consent, "consent.html", ConsentPage{}},
		{&s.form, "form.html", FormPage{}},
		{&s.account, "account.html", AccountPage{}},
	}
	for _, p := range pages {
		t, err := template.New(p.file).Funcs(funcs).ParseFS(pageFiles, "html/layout.html", "html/"+p.file)
		if err != nil {
			return nil, fmt.Errorf("templates: parsing %s: %w", p.file, err)
		}
		// Executing once runs html/template's escaper, which reports
		// context errors only on first execution.
		if err := t.ExecuteTemplate(io.Discard, "layout", p.empty); err != nil {
			return nil, fmt.Errorf("templates: checking %s: %w", p.file, err)
		}
		*p.dst = t
	}
	emails := []struct {
		dst   *emailTemplate
		name  string
		empty any
	}{
		{&s.verificationCode, "verification_code", VerificationCodeEmail{}},
		{&s.accountExists, "account_exists", AccountExistsEmail{}},
		{&s.passwordReset, "password_reset", PasswordResetEmail{}},
	}
	for _, e := range emails {
		t, err := parseEmail(emailFiles, e.name)
		if err != nil {
			return nil, err
		}
		if _, err := t.render(e.empty); err != nil {
			return nil, err // names the email and the part
		}
		*e.dst = t
	}
	return s, nil
}

// render executes the page's layout with data into w, through a buffer.
func render(w io.Writer, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("templates: rendering %s: %w", t.Name(), err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// emailTemplate is the subject, text and HTML templates of one email.
type emailTemplate struct {
	name    string
	subject *ttemplate.Template
	text    *ttemplate.Template
	html    *template.Template
}

func parseEmail(emailFiles fs.FS, name string) (emailTemplate, error) {
	e := emailTemplate{name: name}
	var err error
	if e.subject, err = ttemplate.ParseFS(emailFiles, "email/"+name+".subject.txt"); err != nil {
		return e, fmt.Errorf("templates: parsing email %s subject: %w", name, err)
	}
	if e.text, err = ttemplate.ParseFS(emailFiles, "email/"+name+".txt"); err != nil {
		return e, fmt.Errorf("templates: parsing email %s text: %w", name, err)
	}
	if e.html, err = template.ParseFS(emailFiles, "email/layout.html", "email/"+name+".html"); err != nil {
		return e, fmt.Errorf("templates: parsing email %s html: %w", name, err)
	}
	return e, nil
}

// render executes the three templates with data, whose string fields the
// caller has already reduced to single lines.
func (e emailTemplate) render(data any) (Email, error) {
	var subject, text, html bytes.Buffer
	if err := e.subject.Execute(&subject, data); err != nil {
		return Email{}, fmt.Errorf("templates: rendering email %s subject: %w", e.name, err)
	}
	if err := e.text.Execute(&text, data); err != nil {
		return Email{}, fmt.Errorf("templates: rendering email %s text: %w", e.name, err)
	}
	if err := e.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return Email{}, fmt.Errorf("templates: rendering email %s html: %w", e.name, err)
	}
	// The template's own line break and anything that slipped through
	// go: a subject is one line.
	return Email{Subject: oneLine(subject.String()), Text: text.String(), HTML: html.String()}, nil
}
