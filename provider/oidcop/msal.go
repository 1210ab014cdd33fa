package oidcop

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/foyer-id/foyer/provider/sso"
	"github.com/foyer-id/foyer/storage"
)

// What Microsoft's MSAL libraries send beyond OAuth, and what they expect
// back (DESIGN.md section 8).

// telemetryParams are the query parameters MSAL (msal-common's
// AADServerParamKeys) adds to the token endpoint's URL: a correlation ID
// and the library's telemetry. They carry no OAuth meaning and no secret,
// so the back channel admits them in the query; anything else there is
// refused. Names compare case-insensitively.
var telemetryParams = map[string]bool{
	"client-request-id":          true,
	"x-client-sku":               true,
	"x-client-ver":               true,
	"x-client-os":                true,
	"x-client-cpu":               true,
	"x-client-xtra-sku":          true,
	"x-client-current-telemetry": true,
	"x-client-last-telemetry":    true,
	"x-ms-lib-capability":        true,
	"x-app-name":                 true,
	"x-app-ver":                  true,
}

// Bounds of the telemetry query: MSAL's values are short.
const (
	maxTelemetryQuery = 4 << 10
	maxTelemetryValue = 1 << 10
)

// headerClientRequestID is MSAL's correlation ID, echoed in responses.
const headerClientRequestID = "client-request-id"

// telemetryQuery checks the query string of a back-channel request: only
// MSAL's telemetry parameters, each once and bounded. It echoes the
// client-request-id (from the query, else the request header) when it is a
// GUID, as Entra does. It writes the error and returns false otherwise.
func telemetryQuery(w http.ResponseWriter, r *http.Request) bool {
	id := ""
	if r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil || len(r.URL.RawQuery) > maxTelemetryQuery {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the query string is malformed")
			return false
		}
		for k, v := range q {
			if !telemetryParams[strings.ToLower(k)] {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "parameters must be sent in the request body, not the query string")
				return false
			}
			if len(v) > 1 || len(v[0]) > maxTelemetryValue {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the query parameter "+k+" is repeated or too long")
				return false
			}
			if strings.EqualFold(k, headerClientRequestID) {
				id = v[0]
			}
		}
	}
	id = cmp.Or(id, r.Header.Get(headerClientRequestID))
	if isGUID(id) {
		w.Header().Set(headerClientRequestID, id)
	}
	return true
}

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hex form, in
// either case (Microsoft's clients send both).
func isGUID(s string) bool { return storage.IsID(strings.ToLower(s)) }

// tokenScopes makes the scope parameter of a refresh_token grant bare (see
// normalizeScopes), so zitadel compares it with the grant's bare scopes;
// "<resource>/.default" stands for the resource scopes of the grant. The
// other grants ignore scope.
func (o *OP) tokenScopes(r *http.Request) {
	f := r.PostForm
	if f.Get("grant_type") != string(oidc.GrantTypeRefreshToken) || f.Get("scope") == "" {
		return
	}
	scopes := o.normalizeScopes(f.Get("scope"), func() []string {
		// A token that is unknown, used or unreadable lends nothing; the
		// grant then fails as zitadel decides (or 503 if the store failed).
		rt, err := o.cfg.Store.GetRefreshToken(r.Context(), tenantID(r.Context()), sso.Hash(f.Get("refresh_token")))
		if err != nil {
			return nil
		}
		return rt.Scopes
	})
	joined := strings.Join(scopes, " ")
	f.Set("scope", joined)
	r.Form.Set("scope", joined)
}

// clientInfo is MSAL's client_info: the user's object ID and home tenant,
// from which MSAL builds homeAccountId ("uid.utid").
type clientInfo struct {
	UID  string `json:"uid"`
	UTID string `json:"utid"`
}

// addClientInfo adds client_info to a successful token response when the
// request asked for it (client_info=1, as MSAL always does).
func (o *OP) addClientInfo(buf *bufferedWriter, r *http.Request, st *reqState) {
	if r.PostFormValue("client_info") != "1" || st.issued == nil || buf.status != http.StatusOK {
		return
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(buf.body.Bytes(), &body); err != nil {
		return
	}
	ci, _ := json.Marshal(st.issued)
	enc, _ := json.Marshal(base64.RawURLEncoding.EncodeToString(ci))
	body["client_info"] = enc
	out, err := json.Marshal(body)
	if err != nil {
		return
	}
	buf.body.Reset()
	buf.body.Write(out)
}

// fixFragment repairs the Location of an authorization response sent in
// the fragment (response_mode=fragment, msal-browser's default).
// zitadel/oidc (v3.49) puts the already-encoded parameters in
// url.URL.Fragment, so url.URL.String escapes them a second time: a state
// "a=" comes back as "a%253D" and MSAL refuses it (invalid_state). The
// fragment is written once-encoded, as the query is. Registered redirect
// URIs carry no fragment, so a fragment here is always the response.
func fixFragment(h http.Header) {
	loc := h.Get("Location")
	i := strings.IndexByte(loc, '#')
	if i < 0 {
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		return
	}
	if _, err := url.ParseQuery(u.Fragment); err != nil {
		return
	}
	h.Set("Location", loc[:i+1]+u.Fragment)
}
