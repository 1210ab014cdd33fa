package oidcop

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/storage"
)

// MaxFormBytes bounds the body of every protocol request.
const MaxFormBytes = 64 << 10

// prompts Foyer understands (OIDC Core 3.1.2.1 and RFC 9470's "create").
var prompts = []string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, PromptCreate, "select_account"}

// responseModes are the response_mode values of the code flow Foyer
// serves; "" is the default (query).
var responseModes = []string{"", string(oidc.ResponseModeQuery), string(oidc.ResponseModeFragment), string(oidc.ResponseModeFormPost)}

// PromptCreate asks for the sign-up page (OpenID Connect Prompt Create).
const PromptCreate = "create"

// guardAuthorize checks an authorization request before zitadel does (see
// the package doc for why). It writes the answer and returns false when
// the request must stop here.
func (o *OP) guardAuthorize(w http.ResponseWriter, r *http.Request) bool {
	if !o.guardPage(w, r) {
		return false
	}
	f := r.Form
	app, err := o.storage.app(r.Context(), f.Get("client_id"))
	if errors.Is(err, storage.ErrNotFound) || f.Get("client_id") == "" {
		o.errorPage(w, r, http.StatusBadRequest, "unknownClient", "The application is not registered in this directory.")
		return false
	}
	if err != nil {
		return true // the tracker saw the failure; the handler answers 503
	}
	// Exact, byte-for-byte: no unescaping, no case folding, no port or
	// trailing-slash leniency.
	if !slices.Contains(app.RedirectURIs, f.Get("redirect_uri")) {
		o.errorPage(w, r, http.StatusBadRequest, "redirectUriNotRegistered", "The redirect URI is not registered for this application.")
		return false
	}
	ar := errRequest{redirect: f.Get("redirect_uri"), state: f.Get("state"), mode: f.Get("response_mode")}
	fail := func(e *oidc.Error) bool {
		if !slices.Contains(responseModes, ar.mode) {
			ar.mode = ""
		}
		op.AuthRequestError(w, r, ar, e, o.provider)
		return false
	}
	switch {
	case f.Get("request_uri") != "":
		e := oidc.ErrRequestNotSupported().WithDescription("the request_uri parameter is not supported")
		e.ErrorType = "request_uri_not_supported" // OIDC Core 6.3
		return fail(e)
	case f.Get("request") != "":
		return fail(oidc.ErrRequestNotSupported().WithDescription("the request parameter is not supported"))
	case f.Get("response_type") != string(oidc.ResponseTypeCode):
		e := oidc.ErrInvalidRequest().WithDescription("only response_type=code is supported")
		e.ErrorType = "unsupported_response_type"
		return fail(e)
	case ar.mode != "" && !slices.Contains(responseModes, ar.mode):
		return fail(oidc.ErrInvalidRequest().WithDescription("response_mode must be query, fragment or form_post"))
	case f.Get("code_challenge") == "":
		return fail(oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256"))
	case f.Get("code_challenge_method") != string(oidc.CodeChallengeMethodS256):
		return fail(oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256"))
	case !validChallenge(f.Get("code_challenge")):
		return fail(oidc.ErrInvalidRequest().WithDescription("code_challenge must be the base64url SHA-256 of the verifier (43 characters)"))
	}
	// Resource-qualified names become bare ones here, before zitadel and
	// the consent page see them (scope.go).
	scopes := o.normalizeScopes(f.Get("scope"), func() []string { return app.AllowedScopes })
	f.Set("scope", strings.Join(scopes, " "))
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return fail(oidc.ErrInvalidScope().WithDescription("the openid scope is required"))
	}
	for _, s := range scopes {
		if !slices.Contains(app.AllowedScopes, s) {
			return fail(oidc.ErrInvalidScope().WithDescription("the application may not request the scope %s", s))
		}
	}
	ps := strings.Fields(f.Get("prompt"))
	for _, p := range ps {
		if !slices.Contains(prompts, p) {
			return fail(oidc.ErrInvalidRequest().WithDescription("unknown prompt value %s", p))
		}
		if p == oidc.PromptNone && len(ps) > 1 {
			return fail(oidc.ErrInvalidRequest().WithDescription("prompt=none cannot be combined with other values"))
		}
	}
	if ma := f.Get("max_age"); ma != "" {
		if n, err := strconv.ParseUint(ma, 10, 32); err != nil || n > 1<<31 {
			return fail(oidc.ErrInvalidRequest().WithDescription("max_age must be a non-negative integer"))
		}
	}
	return true
}

// guardPage admits a request a browser sends to the authorization or
// end-session endpoint: GET, or POST with a bounded form body, each
// parameter once. It answers the error page otherwise.
func (o *OP) guardPage(w http.ResponseWriter, r *http.Request) bool {
	switch r.Method {
	case http.MethodPost:
		if !o.parseForm(w, r, false) {
			return false
		}
	case http.MethodGet:
		if err := r.ParseForm(); err != nil {
			o.errorPage(w, r, http.StatusBadRequest, "malformedRequest", "The request is malformed.")
			return false
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		o.errorPage(w, r, http.StatusMethodNotAllowed, "methodNotAllowed", "This address accepts only GET and POST.")
		return false
	}
	for k, v := range r.Form {
		if len(v) > 1 {
			o.errorPage(w, r, http.StatusBadRequest, "repeatedParameter", "The request repeats the parameter "+k+".")
			return false
		}
	}
	return true
}

func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// errRequest carries what zitadel needs to redirect an error.
type errRequest struct{ redirect, state, mode string }

func (e errRequest) GetRedirectURI() string             { return e.redirect }
func (e errRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (e errRequest) GetState() string                   { return e.state }
func (e errRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(e.mode) }

// guardBackchannel admits token, introspection and revocation requests only
// as POST form bodies of at most MaxFormBytes, with every parameter in the
// body once (never in the query string, where secrets would be logged;
// MSAL's telemetry parameters excepted).
func (o *OP) guardBackchannel(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return false
	}
	// Only MSAL's telemetry may ride in the query (msal.go).
	if !telemetryQuery(w, r) {
		return false
	}
	return o.parseForm(w, r, true)
}

// parseForm reads a bounded application/x-www-form-urlencoded body.
func (o *OP) parseForm(w http.ResponseWriter, r *http.Request, oauth bool) bool {
	bad := func(status int, msg string) bool {
		if oauth {
			writeOAuthError(w, status, "invalid_request", msg)
		} else {
			o.errorPage(w, r, status, "malformedRequest", msg)
		}
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return bad(http.StatusUnsupportedMediaType, "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return bad(http.StatusRequestEntityTooLarge, "the request body is too large")
		}
		return bad(http.StatusBadRequest, "the request body is malformed")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return bad(http.StatusBadRequest, "the parameter "+k+" is repeated")
		}
	}
	return true
}

// Reject ends an authorization request with an OAuth error sent to the
// app's redirect URI (already validated when the request was created), e.g.
// login_required for prompt=none without a session. code is one of
// login_required, consent_required, access_denied or interaction_required.
func (o *OP) Reject(w http.ResponseWriter, r *http.Request, ar storage.AuthRequest, code, desc string) {
	e := oidc.ErrInteractionRequired().WithDescription("%s", desc)
	switch code {
	case "login_required":
		e.ErrorType = oidc.LoginRequired
	case "consent_required":
		e.ErrorType = "consent_required"
	case "access_denied":
		e.ErrorType = oidc.AccessDenied
	}
	buf := &bufferedWriter{header: http.Header{}}
	op.AuthRequestError(buf, r, &authRequest{ar}, e, o.provider)
	fixFragment(buf.header)
	buf.flush(w)
}

// ConsumeLogout takes the pending logout confirmation id (single use) and
// returns where to send the browser afterwards. It returns
// storage.ErrNotFound when the confirmation expired or was used.
func (o *OP) ConsumeLogout(ctx context.Context, tenantID, id string) (string, error) {
	raw, err := o.cfg.Store.TakeOnce(ctx, tenantID, kindLogout, id, time.Minute)
	if errors.Is(err, storage.ErrConsumed) {
		return "", storage.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	var rec logoutRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return "", err
	}
	return rec.RedirectURI, nil
}
