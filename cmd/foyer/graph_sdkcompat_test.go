package main

// What the official Microsoft Graph SDKs send and expect (DESIGN.md
// section 8), one item at a time, through real HTTP with real tokens.
// TestGraphSDK runs the SDK itself.

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

func gzipBody(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// send sends body as is with the given headers.
func (w *graphWorld) send(t *testing.T, method, path, token string, body []byte, headers map[string]string) graphResp {
	t.Helper()
	req, err := http.NewRequest(method, w.env.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return w.do(t, req)
}

// storedUser reads a user from the store.
func (w *graphWorld) storedUser(t *testing.T, tn *graphTenant, id string) storage.User {
	t.Helper()
	u, err := w.env.app.store.GetUser(context.Background(), tn.id, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var gzipJSON = map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}

// TestGraphGzipBodies: the SDKs gzip every body. It is decoded, the 64 KiB
// limit applies to what it decodes to (a bomb is refused once past it),
// and another coding gets 415 with Accept-Encoding: gzip, on which the
// SDKs retry uncompressed. A refused body writes nothing.
func TestGraphGzipBodies(t *testing.T) {
	w := startGraphWorld(t)
	x := w.x
	cust := x.user(t, "cust")
	tok := w.as(x, "cust").token(t, "web", "openid", "User.ReadWrite", "Directory.AccessAsUser.All").AccessToken

	r := w.send(t, http.MethodPatch, "/v1.0/me", tok, gzipBody(t, []byte(`{"city":"Gzip City"}`)), gzipJSON)
	wantStatus(t, r, http.StatusNoContent)
	if u := w.storedUser(t, x, cust.ID); u.City != "Gzip City" {
		t.Fatalf("city %q after a gzip PATCH", u.City)
	}

	// A gzip POST: changePassword, refused for the wrong current password
	// (so the body was read and decoded).
	r = w.send(t, http.MethodPost, "/v1.0/me/changePassword", tok,
		gzipBody(t, []byte(`{"currentPassword":"not it","newPassword":"whatever new password 123"}`)), gzipJSON)
	wantGraphError(t, r, http.StatusBadRequest, "invalidPassword")

	refused := func(name string, r graphResp, status int, code string) {
		t.Helper()
		wantGraphError(t, r, status, code)
		if u := w.storedUser(t, x, cust.ID); u.City != "Gzip City" {
			t.Fatalf("%s wrote: city %q", name, u.City)
		}
	}
	big := []byte(`{"city":"Big","jobTitle":"` + strings.Repeat(" ", 64<<10) + `"}`)
	refused("decoded over 64 KiB", w.send(t, http.MethodPatch, "/v1.0/me", tok, gzipBody(t, big), gzipJSON),
		http.StatusRequestEntityTooLarge, "Request_EntityTooLarge")
	bomb := gzipBody(t, append([]byte(`{"city":"Bomb","jobTitle":"`), make([]byte, 16<<20)...))
	refused("a gzip bomb", w.send(t, http.MethodPatch, "/v1.0/me", tok, bomb, gzipJSON),
		http.StatusRequestEntityTooLarge, "Request_EntityTooLarge")
	refused("not gzip", w.send(t, http.MethodPatch, "/v1.0/me", tok, []byte(`{"city":"Plain"}`), gzipJSON),
		http.StatusBadRequest, "Request_BadRequest")
	for _, enc := range []string{"br", "deflate", "gzip, gzip", "compress"} {
		r := w.send(t, http.MethodPatch, "/v1.0/me", tok, []byte(`{"city":"Other"}`),
			map[string]string{"Content-Type": "application/json", "Content-Encoding": enc})
		refused(enc, r, http.StatusUnsupportedMediaType, "UnsupportedMediaType")
		if ae := r.header.Get("Accept-Encoding"); ae != "gzip" {
			t.Fatalf("%s: Accept-Encoding %q", enc, ae)
		}
	}
}

// TestGraphODataAnnotationsAndMediaType: "@odata.type":
// "#microsoft.graph.user" (the SDKs write it in every user PATCH) and its
// null form are accepted, another type is refused and writes nothing;
// application/json with OData's parameters is accepted.
func TestGraphODataAnnotationsAndMediaType(t *testing.T) {
	w := startGraphWorld(t)
	x := w.x
	cust := x.user(t, "cust")
	tok := w.as(x, "cust").token(t, "web", "openid", "User.ReadWrite").AccessToken

	for i, body := range []string{
		`{"@odata.type":"#microsoft.graph.user","city":"Typed"}`,
		`{"@odata.type":null,"city":"Null typed"}`,
	} {
		wantStatus(t, w.call(t, http.MethodPatch, "/v1.0/me", tok, body), http.StatusNoContent)
		if u := w.storedUser(t, x, cust.ID); u.City != []string{"Typed", "Null typed"}[i] {
			t.Fatalf("%s: city %q", body, u.City)
		}
	}
	r := w.call(t, http.MethodPatch, "/v1.0/me", tok, `{"@odata.type":"#microsoft.graph.group","city":"Group"}`)
	wantBadRequest(t, r, "Request_BadRequest", "'@odata.type'", "'#microsoft.graph.user'")
	if u := w.storedUser(t, x, cust.ID); u.City != "Null typed" {
		t.Fatalf("a refused type wrote: city %q", u.City)
	}

	for _, ct := range []string{
		"application/json; odata.metadata=minimal",
		"application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false",
		"application/json; odata.metadata=none; charset=utf-8",
	} {
		wantStatus(t, w.callCT(t, http.MethodPatch, "/v1.0/me", tok, `{"city":"`+ct[len(ct)-5:]+`"}`, ct), http.StatusNoContent)
		if u := w.storedUser(t, x, cust.ID); u.City != ct[len(ct)-5:] {
			t.Fatalf("%s: city %q", ct, u.City)
		}
	}
	wantGraphError(t, w.callCT(t, http.MethodPatch, "/v1.0/me", tok, `{"city":"Verbose"}`, "application/json; odata=verbose"),
		http.StatusUnsupportedMediaType, "UnsupportedMediaType")
}

// TestGraphConsentGrantRoutes: Graph's routes for one grant, GET
// /me/oauth2PermissionGrants/{id} and DELETE /oauth2PermissionGrants/{id}
// (the SDKs' typed requests), with the /me delete's owner checks: another
// user's grant is as unknown as one that does not exist, and survives.
func TestGraphConsentGrantRoutes(t *testing.T) {
	w := startGraphWorld(t)
	x := w.x
	ctx := context.Background()
	cust := x.user(t, "cust")
	s := w.as(x, "cust")
	spa := s.token(t, "spa", "openid", "offline_access", "User.Read")
	web := s.token(t, "web", "openid", "offline_access", "User.ReadWrite")
	noScope := s.token(t, "web", "openid")
	mine, err := w.env.app.store.GetConsent(ctx, x.id, cust.ID, x.spa)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := w.env.app.store.PutConsent(ctx, x.id, storage.Consent{ID: storage.NewID(), TenantID: x.id, ClientID: x.spa,
		UserID: x.user(t, "other").ID, Scopes: []string{"openid"}, ConsentType: "Principal", CreatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/v1.0/me/oauth2PermissionGrants/", "/v1.0/oauth2PermissionGrants/"} {
		r := w.call(t, http.MethodGet, path+mine.ID, spa.AccessToken, nil)
		wantStatus(t, r, http.StatusOK)
		if r.str("id") != mine.ID || r.str("clientId") != x.spa || r.str("principalId") != cust.ID ||
			r.str("consentType") != "Principal" || r.str("scope") != "openid offline_access User.Read" ||
			r.str("@odata.context") != w.env.base+"/v1.0/$metadata#oauth2PermissionGrants/$entity" {
			t.Fatalf("GET %s: %s", path, r.body)
		}
		r = w.call(t, http.MethodGet, path+mine.ID+"?$select=scope", spa.AccessToken, nil)
		if r.str("scope") == "" || r.json["id"] != nil || r.json["clientId"] != nil {
			t.Fatalf("$select=scope: %s", r.body)
		}
		wantGraphError(t, w.call(t, http.MethodGet, path+theirs.ID, spa.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")
		wantGraphError(t, w.call(t, http.MethodGet, path+storage.NewID(), spa.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")
		wantInsufficientScope(t, w.call(t, http.MethodGet, path+mine.ID, noScope.AccessToken, nil), "User.Read")
	}

	const del = "/v1.0/oauth2PermissionGrants/"
	wantInsufficientScope(t, w.call(t, http.MethodDelete, del+mine.ID, spa.AccessToken, nil), "User.ReadWrite")
	wantGraphError(t, w.call(t, http.MethodDelete, del+theirs.ID, web.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")
	wantGraphError(t, w.call(t, http.MethodDelete, del+storage.NewID(), web.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")
	if _, err := w.env.app.store.GetConsent(ctx, x.id, x.user(t, "other").ID, x.spa); err != nil {
		t.Fatalf("another user's consent: %v", err)
	}
	r := w.call(t, http.MethodDelete, del+mine.ID, web.AccessToken, nil)
	wantStatus(t, r, http.StatusNoContent)
	if !storage.IsID(r.header.Get("request-id")) || r.header.Get("client-request-id") == "" {
		t.Fatalf("204 without request-id or client-request-id: %v", r.header)
	}
	if _, err := w.env.app.store.GetConsent(ctx, x.id, cust.ID, x.spa); err == nil {
		t.Fatal("the consent survived its DELETE")
	}
	wantInvalidToken(t, w.call(t, http.MethodGet, "/v1.0/me", spa.AccessToken, nil))
	if _, err := spa.c.refresh(spa.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("the SPA's refresh token after DELETE /oauth2PermissionGrants/{id}: %v", err)
	}
	wantGraphError(t, w.call(t, http.MethodDelete, del+mine.ID, web.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")
	if n := countActivity(w.graphAudit(t, x.id), "consentRevoked"); n != 1 {
		t.Fatalf("%d consentRevoked events, want 1", n)
	}
}

// TestGraphRequestIDHeaders: every answer under /v1.0, successes and
// preflights included, carries request-id (a GUID, the router's
// X-Request-Id) and client-request-id: the client's, echoed, or the
// request-id when it sent none.
func TestGraphRequestIDHeaders(t *testing.T) {
	w := startGraphWorld(t)
	tok := w.as(w.x, "cust").token(t, "web", "openid", "User.ReadWrite").AccessToken
	const clientID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"GET 200", http.MethodGet, "/v1.0/me", "", http.StatusOK},
		{"PATCH 204", http.MethodPatch, "/v1.0/me", `{"city":"Ids"}`, http.StatusNoContent},
		{"PATCH 400", http.MethodPatch, "/v1.0/me", `{"userType":"Member"}`, http.StatusBadRequest},
		{"GET 404", http.MethodGet, "/v1.0/nope", "", http.StatusNotFound},
	} {
		for _, sent := range []string{clientID, ""} {
			req, _ := http.NewRequest(tc.method, w.env.base+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if sent != "" {
				req.Header.Set("client-request-id", sent)
			}
			r := w.do(t, req)
			id := r.header.Get("request-id")
			want := sent
			if want == "" {
				want = id
			}
			if r.status != tc.status || !storage.IsID(id) || id != r.header.Get("X-Request-Id") || r.header.Get("client-request-id") != want {
				t.Fatalf("%s (client-request-id %q): %d, request-id %q, X-Request-Id %q, client-request-id %q",
					tc.name, sent, r.status, id, r.header.Get("X-Request-Id"), r.header.Get("client-request-id"))
			}
			if tc.status >= 400 {
				wantGraphError(t, r, tc.status, r.str("error.code"))
			}
		}
	}
	// A preflight has them too.
	req, _ := http.NewRequest(http.MethodOptions, w.env.base+"/v1.0/me", nil)
	req.Header.Set("Origin", "https://spa.example")
	req.Header.Set("Access-Control-Request-Method", http.MethodGet)
	r := w.do(t, req)
	if !storage.IsID(r.header.Get("request-id")) || r.header.Get("client-request-id") != r.header.Get("request-id") {
		t.Fatalf("preflight: %v", r.header)
	}
	// Every other route of the application has a GUID request ID too.
	resp, err := w.env.client.Get(w.env.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !storage.IsID(resp.Header.Get("X-Request-Id")) {
		t.Fatalf("/healthz X-Request-Id %q", resp.Header.Get("X-Request-Id"))
	}
}

// TestGraphCORSForSDKs: a preflight asking for the Graph SDKs' headers
// is allowed, and answers expose client-request-id.
func TestGraphCORSForSDKs(t *testing.T) {
	w := startGraphWorld(t)
	headers := "authorization,client-request-id,consistencylevel,content-encoding,content-type,prefer,return-client-request-id,sdkversion"
	req, _ := http.NewRequest(http.MethodOptions, w.env.base+"/v1.0/me", nil)
	req.Header.Set("Origin", "https://spa.example")
	req.Header.Set("Access-Control-Request-Method", http.MethodPatch)
	req.Header.Set("Access-Control-Request-Headers", headers)
	r := w.do(t, req)
	got := strings.ToLower(strings.ReplaceAll(r.header.Get("Access-Control-Allow-Headers"), " ", ""))
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" || got != headers {
		t.Fatalf("preflight with the SDKs' headers: %d, Allow-Headers %q", r.status, got)
	}
	tok := w.as(w.x, "cust").token(t, "spa", "openid", "User.Read").AccessToken
	req, _ = http.NewRequest(http.MethodGet, w.env.base+"/v1.0/me", nil)
	req.Header.Set("Origin", "https://spa.example")
	req.Header.Set("Authorization", "Bearer "+tok)
	r = w.do(t, req)
	exposed := strings.ToLower(r.header.Get("Access-Control-Expose-Headers"))
	if r.status != http.StatusOK || !strings.Contains(exposed, "client-request-id") || !strings.Contains(exposed, "request-id") {
		t.Fatalf("%d, Access-Control-Expose-Headers %q", r.status, exposed)
	}
}

// TestGraphPhonesAndOffice: businessPhones (always an array), mobilePhone
// and officeLocation are in /me's default set, as in Graph, and $select
// names them; a user cannot set them (400 naming the property, and
// nothing of the body is written).
func TestGraphPhonesAndOffice(t *testing.T) {
	w := startGraphWorld(t)
	x := w.x
	cust := x.user(t, "cust")
	tok := w.as(x, "cust").token(t, "web", "openid", "User.Read", "User.ReadWrite").AccessToken

	r := w.call(t, http.MethodGet, "/v1.0/me", tok, nil)
	wantStatus(t, r, http.StatusOK)
	phones, ok := r.json["businessPhones"].([]any)
	if !ok || len(phones) != 0 {
		t.Fatalf("businessPhones: %s", r.body)
	}
	for _, name := range []string{"mobilePhone", "officeLocation"} {
		if v, ok := r.json[name]; !ok || v != nil {
			t.Fatalf("%s: %s", name, r.body)
		}
	}
	r = w.call(t, http.MethodGet, "/v1.0/me?$select=businessPhones,mobilePhone,officeLocation", tok, nil)
	wantStatus(t, r, http.StatusOK)
	if _, ok := r.json["businessPhones"].([]any); !ok || len(r.json) != 4 {
		t.Fatalf("$select: %s", r.body)
	}
	for _, body := range []string{
		`{"city":"Phoned","businessPhones":["+33 1 23 45 67 89"]}`,
		`{"city":"Phoned","businessPhones":[]}`,
		`{"city":"Phoned","mobilePhone":"+33 6 12 34 56 78"}`,
		`{"city":"Phoned","officeLocation":"Building 1"}`,
	} {
		name := body[strings.Index(body, `","`)+3 : strings.LastIndex(body, `":`)]
		r := w.call(t, http.MethodPatch, "/v1.0/me", tok, body)
		wantBadRequest(t, r, "Request_BadRequest", "'"+name+"'", "cannot be updated")
		if u := w.storedUser(t, x, cust.ID); u.City == "Phoned" {
			t.Fatalf("%s: the rest of the body was written", body)
		}
	}
}

// TestGraphMethodNotAllowed: a path the API serves, with a method it does
// not serve there, gets 405 with Allow in Graph's envelope.
func TestGraphMethodNotAllowed(t *testing.T) {
	w := startGraphWorld(t)
	tok := w.as(w.x, "cust").token(t, "web", "openid", "User.ReadWrite").AccessToken
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPut, "/v1.0/me", "GET, HEAD, PATCH"},
		{http.MethodDelete, "/v1.0/me", "GET, HEAD, PATCH"},
		{http.MethodGet, "/v1.0/me/changePassword", "POST"},
		{http.MethodPost, "/v1.0/oauth2PermissionGrants/" + storage.NewID(), "GET, HEAD, DELETE"},
		{http.MethodPut, "/v1.0/users/" + storage.NewID(), "GET, HEAD, PATCH"},
	} {
		r := w.call(t, tc.method, tc.path, tok, nil)
		wantGraphError(t, r, http.StatusMethodNotAllowed, "Request_BadRequest")
		if a := r.header.Get("Allow"); a != tc.allow {
			t.Fatalf("%s %s: Allow %q, want %q", tc.method, tc.path, a, tc.allow)
		}
	}
	wantGraphError(t, w.call(t, http.MethodPut, "/v1.0/nothing/here", tok, nil), http.StatusNotFound, "Request_ResourceNotFound")
}
