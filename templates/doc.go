// Package templates holds Foyer's embedded HTML pages and email templates
// and renders them through one typed method per page or email.
//
// Everything is parsed, and every page executed once with empty data, in
// New, so a broken template stops the server at start-up instead of
// failing a user's request. Pages are rendered into a buffer first: a
// render error never leaves half a page on the wire.
//
// Pages (SignIn, Error, LogoutConfirm, Consent) share one layout, carry no
// scripts, no inline styles and no external assets: their only stylesheet
// is static/foyer.css, which the application serves from Static() at the
// URL given to New with WithStaticURL (by default "/static"). They are
// therefore compatible with a strict Content-Security-Policy such as
// "default-src 'none'; style-src 'self'; form-action 'self';
// frame-ancestors 'none'; base-uri 'none'".
// Every user-supplied value goes through html/template's contextual
// escaping; URLs with schemes other than http, https and mailto are
// replaced by "#ZgotmplZ". Form field names are the Field* constants, so
// the handlers that read the forms and the pages that write them agree.
//
// WriteError is the one way an error reaches a browser, from the pages
// and from the protocol endpoints alike: the error page with its status
// and the headers of every page, ContentSecurityPolicy among them.
//
// Emails (VerificationCode, AccountExists, PasswordReset) are a subject, a
// plain-text body and an HTML body, like ory/kratos's courier templates.
// Every string field is reduced to a single line (control characters,
// line and paragraph separators and bidirectional overrides removed)
// before rendering, so no field can add a header through the subject or
// fake lines in the text body.
//
// The package imports nothing of Foyer's.
package templates
