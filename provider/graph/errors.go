package graph

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/foyer-id/foyer/provider/fault"
)

// Graph's error codes for the answers every endpoint shares.
const (
	codeInvalidToken     = "InvalidAuthenticationToken"
	codeDenied           = "Authorization_RequestDenied"
	codeBadRequest       = "Request_BadRequest"
	codeNotFound         = "Request_ResourceNotFound"
	codeUnsupportedQuery = "Request_UnsupportedQuery"
)

// errNoToken marks a request without credentials: 401 with a bare
// WWW-Authenticate: Bearer challenge (RFC 6750 section 3.1: no error code
// when the request has no authentication information).
var errNoToken = errors.New("no access token")

// scopeError is the cause of an insufficient_scope refusal; scope is the
// scope the operation needs (the least privileged one when several do).
type scopeError struct{ scope string }

func (e *scopeError) Error() string { return "insufficient scope: need " + e.scope }

func invalidToken(msg string) error {
	return fault.New(fault.Unauthenticated, codeInvalidToken, msg)
}

func denied() error {
	return fault.New(fault.Forbidden, codeDenied, "Insufficient privileges to complete the operation.")
}

func insufficientScope(scope string) error {
	return fault.Wrap(&scopeError{scope: scope}, fault.Forbidden, codeDenied,
		"The access token lacks the scope "+scope+" this operation requires.")
}

func badRequest(msg string) error {
	return fault.New(fault.Invalid, codeBadRequest, msg)
}

func notFound() error {
	return fault.New(fault.NotFound, codeNotFound, "The requested resource does not exist.")
}

// graphCodes renames fault's generic codes to Graph's.
var graphCodes = map[string]string{
	"temporarilyUnavailable": "serviceNotAvailable",
	"internalError":          "generalException",
	"notFound":               codeNotFound,
	"alreadyExists":          "Request_MultipleObjectsWithSameKeyValue",
}

// status is the HTTP status of err (the one mapping, fault.Status).
func status(err error) int { return fault.Status(err) }

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

type errorBody struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

// writeError answers with Graph's error envelope:
//
//	{"error":{"code":"…","message":"…","innerError":{"date":"…","request-id":"…","client-request-id":"…"}}}
//
// with the challenge of RFC 6750 on 401 and on insufficient scope, and
// Retry-After when the error has one. Server-side failures are logged with
// their cause; their message never reaches the client.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := fault.From(err)
	st := status(err)
	code := e.Code
	if c, ok := graphCodes[code]; ok {
		code = c
	}
	h := w.Header()
	switch {
	case errors.Is(err, errNoToken):
		h.Set("WWW-Authenticate", `Bearer realm="`+a.cfg.URLs.GraphResource()+`"`)
	case st == http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description=`+quote(e.Message))
	}
	var se *scopeError
	if errors.As(err, &se) {
		h.Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope=`+quote(se.scope)+
			`, error_description=`+quote(e.Message))
	}
	if s := fault.RetryAfterSeconds(e); s > 0 {
		h.Set("Retry-After", strconv.Itoa(s))
	}
	if st >= 500 {
		a.cfg.Logger.ErrorContext(r.Context(), "graph request failed", "method", r.Method,
			"path", strings.ToValidUTF8(r.URL.Path, "?"), "status", st, "err", err)
	}
	body := struct {
		Error errorBody `json:"error"`
	}{errorBody{
		Code:    code,
		Message: e.Message,
		InnerError: innerError{Date: a.cfg.Clock().UTC().Format(time.RFC3339),
			RequestID: h.Get("request-id"), ClientRequestID: h.Get("client-request-id")},
	}}
	a.writeJSON(w, r, st, body)
}

// quote returns s as an RFC 9110 quoted-string, dropping what a header may
// not carry.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeJSON writes v with the API's headers.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, st int, v any) {
	var b []byte
	var err error
	if o, ok := v.(object); ok {
		b, err = o.appendJSON(make([]byte, 0, 1024))
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		a.cfg.Logger.ErrorContext(r.Context(), "graph: encoding a response", "err", err)
		st = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"generalException","message":"Something went wrong on our side."}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(st)
	w.Write(b)
}
