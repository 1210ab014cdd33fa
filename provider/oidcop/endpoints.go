package oidcop

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// endpointKind says who calls an endpoint, and so what its answers,
// errors above all, must look like.
type endpointKind int

const (
	// documentEndpoint: discovery and JWKS, public JSON documents.
	documentEndpoint endpointKind = iota
	// browserEndpoint: authorization, its callback and end-session. A
	// browser navigates there: errors that cannot go back to the app are
	// the error page, and no CORS.
	browserEndpoint
	// clientEndpoint: token, introspection and revocation, called by the
	// app: RFC 6749 §5.2 JSON errors, never cached.
	clientEndpoint
	// resourceEndpoint: userinfo, a resource the access token opens: RFC
	// 6750 §3 errors with a Bearer challenge.
	resourceEndpoint
)

// BrowserPath reports whether rel (below the issuer) is a protocol endpoint
// a browser navigates to, whose errors are the error page.
func BrowserPath(rel string) bool { return kindOf(rel) == browserEndpoint }

func kindOf(rel string) endpointKind {
	switch rel {
	case pathAuthorize, pathCallback, pathEndSession:
		return browserEndpoint
	case pathToken, pathIntrospect, pathRevoke:
		return clientEndpoint
	case pathUserinfo:
		return resourceEndpoint
	}
	return documentEndpoint
}

// Error codes of RFC 6750 §3.1 (zitadel has no constructors for them).
const (
	codeInvalidToken      = "invalid_token"
	codeInsufficientScope = "insufficient_scope"
)

// errInvalidToken is the userinfo answer for a token Foyer did not verify
// in this request (forged, expired, revoked, another tenant's, not an
// access token) or whose user is gone.
func errInvalidToken(desc string) *oidc.Error {
	e := oidc.ErrAccessDenied().WithDescription("%s", desc)
	e.ErrorType = codeInvalidToken
	return e
}

// errInsufficientScope is the userinfo answer for a valid access token
// that was not issued with the openid scope.
func errInsufficientScope() *oidc.Error {
	e := oidc.ErrAccessDenied().WithDescription("userinfo requires an access token with the openid scope")
	e.ErrorType = codeInsufficientScope
	return e
}

// conform gives a response the shape the standards require of its kind of
// endpoint, whoever wrote it (a guard, zitadel or Foyer's storage
// callbacks): the one place where protocol errors are mapped to HTTP.
//   - client endpoints: Cache-Control: no-store and Pragma: no-cache on
//     every answer; errors as {"error","error_description"} JSON; a 401 is
//     always invalid_client, with a Basic challenge when the client used
//     Basic; a server error never shows its internal text.
//   - the resource endpoint: 401 with a Bearer challenge carrying
//     invalid_token, or no error code when no token was sent (RFC 6750
//     §3.1); 403 insufficient_scope; 400 invalid_request.
//   - browser endpoints: any error written as text or JSON becomes the
//     error page.
func (o *OP) conform(w *bufferedWriter, r *http.Request, rel string) {
	kind := kindOf(rel)
	if w.status >= http.StatusBadRequest && kind != documentEndpoint {
		o.conformError(w, r, rel, kind)
	}
	if kind == clientEndpoint || kind == resourceEndpoint {
		w.header.Set("Cache-Control", "no-store")
		w.header.Set("Pragma", "no-cache")
	}
}

// conformError rewrites an error answer of a browser, client or resource
// endpoint (see conform).
func (o *OP) conformError(w *bufferedWriter, r *http.Request, rel string, kind endpointKind) {
	if mt, _, _ := mime.ParseMediaType(w.header.Get("Content-Type")); kind == browserEndpoint && mt == "text/html" {
		return // already the error page
	}
	status := w.status
	code, desc := w.oauthError()
	if status >= http.StatusInternalServerError || code == string(oidc.ServerError) {
		o.cfg.Logger.ErrorContext(r.Context(), "protocol endpoint failed", "path", rel, "status", status, "body", w.body.String())
		status, code, desc = max(status, http.StatusInternalServerError), string(oidc.ServerError), "The server could not complete the request."
	}
	w.reset()
	switch kind {
	case browserEndpoint:
		if status < http.StatusInternalServerError {
			status = http.StatusBadRequest
		}
		o.errorPage(w, r, status, code, browserMessage(rel, code, desc))
	case clientEndpoint:
		o.clientError(w, r, status, code, desc)
	case resourceEndpoint:
		o.bearerError(w, r, status, code, desc)
	}
}

// clientError writes an RFC 6749 §5.2 error of a client endpoint.
func (o *OP) clientError(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	switch {
	case status == http.StatusUnauthorized || code == string(oidc.InvalidClient):
		status, code, desc = http.StatusUnauthorized, string(oidc.InvalidClient), "Client authentication failed: unknown client, wrong secret or unsupported authentication method."
		if _, _, basic := r.BasicAuth(); basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+o.cfg.URLs.Issuer(tenantID(r.Context()))+`", charset="UTF-8"`)
		}
	case code == "":
		code = string(oidc.InvalidRequest)
	}
	writeOAuthError(w, status, code, desc)
}

// bearerError writes an RFC 6750 §3 error of the userinfo endpoint.
func (o *OP) bearerError(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	switch {
	case status >= http.StatusInternalServerError:
		writeOAuthError(w, status, code, desc)
		return
	case code == codeInsufficientScope:
		status = http.StatusForbidden
	case code == string(oidc.InvalidRequest):
		// keeps the guard's status: 400, 405, 413 or 415
	case !tokenPresented(r):
		status, code, desc = http.StatusUnauthorized, "", ""
	default:
		status, code = http.StatusUnauthorized, codeInvalidToken
		if desc == "" { // zitadel's own text answer
			desc = "The access token is invalid, expired or revoked."
		}
	}
	challenge := `Bearer realm="` + o.cfg.URLs.Issuer(tenantID(r.Context())) + `"`
	if code != "" {
		challenge += `, error="` + code + `", error_description="` + quotable(desc) + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	if code == "" {
		w.WriteHeader(status) // no credentials, no error (RFC 6750 §3.1)
		return
	}
	writeOAuthError(w, status, code, desc)
}

// tokenPresented reports whether a userinfo request carried an access token
// in any of RFC 6750's places.
func tokenPresented(r *http.Request) bool {
	return bearerToken(r) != "" || r.URL.Query().Has("access_token")
}

// bearerToken is the access token of the Authorization header (RFC 6750
// §2.1), else of the already parsed POST body (§2.2). A token in the query
// string (§2.3) is never used.
func bearerToken(r *http.Request) string {
	if t := headerToken(r); t != "" {
		return t
	}
	return r.PostForm.Get("access_token")
}

// headerToken is the token of an "Authorization: Bearer" header.
func headerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// quotable makes s fit a quoted-string of an auth-param (RFC 6750 §3 limits
// error_description to printable ASCII without '"' and '\').
func quotable(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return -1
		}
		return c
	}, s)
}

// browserMessage says in plain language why a browser request failed.
func browserMessage(rel, code, desc string) string {
	switch {
	case code == string(oidc.ServerError):
		return "Something went wrong on our side. Try again in a few minutes."
	case code == string(oidc.InvalidClient):
		return "The application is not registered in this directory."
	case rel == pathCallback:
		return "This sign-in link has expired or was already used. Return to the application and start again."
	}
	what := "sign-in"
	if rel == pathEndSession {
		what = "sign-out"
	}
	if desc != "" {
		desc = " (" + desc + ")"
	}
	return "The " + what + " request is not valid" + desc + ". Return to the application and try again."
}

// errorPage is the answer to a browser when there is no safe place to
// redirect to: the templates' error page with the request ID.
func (o *OP) errorPage(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	title := "We can't sign you in"
	if r.URL.Path == pathEndSession {
		title = "We can't sign you out"
	}
	var id string
	if o.cfg.RequestID != nil {
		id = o.cfg.RequestID(r.Context())
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	if err := o.cfg.Templates.WriteError(w, status, templates.ErrorPage{Title: title, Message: msg, Code: code, RequestID: id}); err != nil {
		o.cfg.Logger.ErrorContext(r.Context(), "error page", "err", err)
	}
}

// oauthError reads the error code and description of a buffered error
// answer: an OAuth JSON error, or "" for anything else (zitadel answers
// some errors as text/plain).
func (b *bufferedWriter) oauthError() (code, desc string) {
	if mt, _, _ := mime.ParseMediaType(b.header.Get("Content-Type")); mt != "application/json" {
		return "", ""
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(b.body.Bytes(), &e) != nil {
		return "", ""
	}
	return e.Error, e.Description
}

// authenticClient refuses a token, introspection or revocation request
// whose client is unknown, names none, or fails to authenticate, with
// invalid_client, before any grant or token is looked at (RFC 6749 §3.2.1):
// the same answer for every grant type and endpoint, and a wrong secret
// can never consume someone's code. A confidential app must present its
// secret (Basic or client_secret_post); a public app presents none. The
// app read here is the one zitadel's callbacks then use.
func (o *OP) authenticClient(w http.ResponseWriter, r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			id = ""
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != "" {
		app, err := o.storage.app(r.Context(), id)
		switch {
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return true // a store failure: the tracker saw it, the answer is 503
		case err != nil:
		case !app.Confidential() && secret == "":
			return true
		case o.storage.AuthorizeClientIDSecret(r.Context(), id, secret) == nil:
			return true
		}
	}
	o.clientError(w, r, http.StatusUnauthorized, string(oidc.InvalidClient), "")
	return false
}
