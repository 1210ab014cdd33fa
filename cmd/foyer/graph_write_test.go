package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/storage"
)

// TestGraphPatchMe: the ten properties of seed 003 are updatable and
// normalised; anything else is refused naming the property, and a refused
// body writes nothing.
func TestGraphPatchMe(t *testing.T) {
	w := startGraphWorld(t)
	s := w.as(w.x, "cust")
	rw := s.token(t, "spa", "openid", "User.ReadWrite").AccessToken
	readOnly := s.token(t, "spa", "openid", "User.Read").AccessToken
	changePw := s.token(t, "web", "openid", "User.Read", "Directory.AccessAsUser.All").AccessToken

	r := w.call(t, http.MethodPatch, "/v1.0/me", rw, map[string]any{
		"city": "Montre\u0301al", "country": "Canada", "displayName": "Cust Omer", "givenName": "Cust",
		"jobTitle": "Buyer", "postalCode": "H2X 1Y4", "state": "QC", "streetAddress": "1 rue Sainte-Catherine",
		"surname": "Omer", "preferredLanguage": "FR-ca",
	})
	wantStatus(t, r, http.StatusNoContent)
	before := w.call(t, http.MethodGet, "/v1.0/me", rw, nil)
	for k, want := range map[string]string{"city": "Montr\u00e9al", "country": "Canada", "displayName": "Cust Omer",
		"preferredLanguage": "fr-CA", "postalCode": "H2X 1Y4", "streetAddress": "1 rue Sainte-Catherine", "surname": "Omer"} {
		if got := before.str(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// null clears; absent properties stay.
	wantStatus(t, w.call(t, http.MethodPatch, "/v1.0/me", rw, `{"jobTitle":null,"state":""}`), http.StatusNoContent)
	got := w.call(t, http.MethodGet, "/v1.0/me", rw, nil)
	if got.json["jobTitle"] != nil || got.json["state"] != nil || got.str("city") != "Montr\u00e9al" {
		t.Fatalf("after clearing: %s", got.body)
	}
	before = got

	unchanged := func(t *testing.T) {
		t.Helper()
		if after := w.call(t, http.MethodGet, "/v1.0/me", rw, nil); !bytes.Equal(after.body, before.body) {
			t.Fatalf("the profile changed:\n%s\n%s", before.body, after.body)
		}
	}

	t.Run("non-updatable properties and case variants", func(t *testing.T) {
		for _, name := range []string{"userType", "UserType", "USERTYPE", "mail", "Mail", "creationType", "id", "ID",
			"identities", "accountEnabled", "AccountEnabled", "passwordProfile", "createdDateTime",
			"userPrincipalName", "UserPrincipalName", "externalUserState", "roles", "otherMails",
			"DisplayName", "DISPLAYNAME", "displayname", "City", "PreferredLanguage", "favouriteColour"} {
			for _, v := range []any{"x", true, nil, map[string]any{"a": 1}, []string{"Guest"}} {
				body, _ := json.Marshal(map[string]any{"city": "Changed", name: v})
				wantBadRequest(t, w.call(t, http.MethodPatch, "/v1.0/me", rw, string(body)), "Request_BadRequest", "'"+name+"'")
			}
		}
		unchanged(t)
	})

	t.Run("malformed bodies", func(t *testing.T) {
		for _, tc := range []struct{ name, body, part string }{
			{"empty", ``, "empty"},
			{"array", `[]`, "JSON object"},
			{"string", `"x"`, "JSON object"},
			{"number", `1`, "JSON object"},
			{"null", `null`, "JSON object"},
			{"two objects", `{"city":"a"}{}`, "after the JSON object"},
			{"trailing garbage", `{"city":"a"} ]`, "after the JSON object"},
			{"duplicate keys", `{"city":"a","city":"b"}`, "'city'"},
			{"duplicate keys differing in case", `{"city":"a","City":"b"}`, "'City'"},
			{"number for a string", `{"city":12}`, "'city'"},
			{"bool for a string", `{"displayName":false}`, "'displayName'"},
			{"nested object", `{"city":{"name":"Paris"}}`, "'city'"},
			{"array for a string", `{"surname":["a"]}`, "'surname'"},
			{"null displayName", `{"displayName":null}`, "'displayName'"},
			{"empty displayName", `{"displayName":""}`, "'displayName'"},
			{"10,000-character displayName", `{"displayName":"` + strings.Repeat("é", 10000) + `"}`, "'displayName'"},
			{"65-character givenName", `{"givenName":"` + strings.Repeat("a", 65) + `"}`, "'givenName'"},
			{"control character", `{"displayName":"Cust\u0007Omer"}`, "'displayName'"},
			{"NUL", `{"city":"a\u0000b"}`, "'city'"},
			{"newline", `{"streetAddress":"1 rue\nX"}`, "'streetAddress'"},
			{"bidi override", `{"displayName":"\u202egnp.exe"}`, "'displayName'"},
			{"bad language tag", `{"preferredLanguage":"klingon please"}`, "'preferredLanguage'"},
			{"truncated", `{"city":"a"`, "well-formed"},
			{"trailing comma", `{"city":"a",}`, "well-formed"},
			{"invalid UTF-8", "{\"city\":\"\xff\"}", "UTF-8"},
			{"a valid property after an invalid one", `{"favouriteColour":"red","city":"Oslo"}`, "'favouriteColour'"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantBadRequest(t, w.call(t, http.MethodPatch, "/v1.0/me", rw, tc.body), "Request_BadRequest", tc.part)
			})
		}
		unchanged(t)
	})

	t.Run("media type and size", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonp"} {
			r := w.callCT(t, http.MethodPatch, "/v1.0/me", rw, `{"city":"Oslo"}`, ct)
			wantGraphError(t, r, http.StatusUnsupportedMediaType, "UnsupportedMediaType")
		}
		wantStatus(t, w.callCT(t, http.MethodPatch, "/v1.0/me", rw, `{}`, "application/json; charset=UTF-8"), http.StatusNoContent)
		mib := `{"city":"` + strings.Repeat("a", 1<<20) + `"}`
		wantGraphError(t, w.call(t, http.MethodPatch, "/v1.0/me", rw, mib), http.StatusRequestEntityTooLarge, "Request_EntityTooLarge")
		// A body of unknown length is cut at 64 KiB too.
		req, _ := http.NewRequest(http.MethodPatch, w.env.base+"/v1.0/me", struct{ *strings.Reader }{strings.NewReader(mib)})
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+rw)
		wantGraphError(t, w.do(t, req), http.StatusRequestEntityTooLarge, "Request_EntityTooLarge")
		unchanged(t)
	})

	t.Run("User.Read may not PATCH or change the password", func(t *testing.T) {
		wantInsufficientScope(t, w.call(t, http.MethodPatch, "/v1.0/me", readOnly, `{"city":"Oslo"}`), "User.ReadWrite")
		wantInsufficientScope(t, w.call(t, http.MethodPatch, "/v1.0/users/"+w.x.user(t, "cust").ID, readOnly, `{"city":"Oslo"}`), "User.ReadWrite")
		wantInsufficientScope(t, w.call(t, http.MethodPost, "/v1.0/me/changePassword", readOnly,
			map[string]string{"currentPassword": w.pw, "newPassword": "an entirely new passphrase " + w.sfx}), "Directory.AccessAsUser.All")
		wantInsufficientScope(t, w.call(t, http.MethodPost, "/v1.0/me/changePassword", rw,
			map[string]string{"currentPassword": w.pw, "newPassword": "an entirely new passphrase " + w.sfx}), "Directory.AccessAsUser.All")
		// Directory.AccessAsUser.All changes the password, not the profile.
		wantInsufficientScope(t, w.call(t, http.MethodPatch, "/v1.0/me", changePw, `{"city":"Oslo"}`), "User.ReadWrite")
		unchanged(t)
	})
}

// TestGraphChangePassword: the current password is checked through the
// sign-in lockout, the new one through the tenant's policy; a change ends
// every other session and refresh token but the caller's.
func TestGraphChangePassword(t *testing.T) {
	w := startGraphWorld(t, longLocks) // the lock test below must outlast a loaded machine
	w2 := w.w2
	one, two := w.as(w2, "m2"), w.as(w2, "m2") // two browsers, two SSO sessions
	caller := one.token(t, "web", "openid", "offline_access", "User.Read", "Directory.AccessAsUser.All")
	bystander := two.token(t, "spa", "openid", "offline_access", "User.Read")
	newPW := "a completely different passphrase " + w.sfx
	change := func(tok, current, next string) graphResp {
		return w.call(t, http.MethodPost, "/v1.0/me/changePassword", tok, map[string]string{"currentPassword": current, "newPassword": next})
	}

	wantBadRequest(t, change(caller.AccessToken, "wrong password entirely", newPW), "invalidPassword")
	wantBadRequest(t, change(caller.AccessToken, w.pw, "short"), "passwordTooShort")
	wantBadRequest(t, change(caller.AccessToken, w.pw, strings.Repeat("long ", 60)), "passwordTooLong")
	wantBadRequest(t, change(caller.AccessToken, w.pw, w.pw), "passwordUnchanged")
	wantBadRequest(t, w.call(t, http.MethodPost, "/v1.0/me/changePassword", caller.AccessToken, `{"newPassword":"x"}`), "Request_BadRequest", "'currentPassword'")
	wantBadRequest(t, w.call(t, http.MethodPost, "/v1.0/me/changePassword", caller.AccessToken,
		`{"currentPassword":"a","newPassword":"b","NewPassword":"c"}`), "Request_BadRequest", "'NewPassword'")
	// Nothing changed yet: every token still works.
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", bystander.AccessToken, nil), http.StatusOK)

	r := change(caller.AccessToken, w.pw, newPW)
	wantStatus(t, r, http.StatusNoContent)

	// The caller's token and refresh token live on.
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", caller.AccessToken, nil), http.StatusOK)
	if _, err := caller.c.refresh(caller.RefreshToken); err != nil {
		t.Fatalf("the caller's refresh token: %v", err)
	}
	// Every other one is dead: access token (401), refresh token
	// (invalid_grant), SSO session (the sign-in page again).
	wantInvalidToken(t, w.call(t, http.MethodGet, "/v1.0/me", bystander.AccessToken, nil))
	if _, err := bystander.c.refresh(bystander.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("the other session's refresh token: %v, want invalid_grant", err)
	}
	c := w.env.rp(tenantFixture{id: w2.id, spaID: w2.spa, redirect: w2.redirect}, false, "openid")
	if p := two.b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); p.status != http.StatusOK || !strings.Contains(p.body, "password") {
		t.Fatalf("the other browser's SSO session survived: %d %s", p.status, p.url)
	}
	// The old password no longer signs in; the new one does.
	if _, err := w.env.app.store.UserIDByMail(t.Context(), w2.id, w2.mail("m2")); err != nil {
		t.Fatal(err)
	}
	old := w.as(w2, "m2")
	if p := old.signInWith(t, w.pw); p.status != http.StatusOK {
		t.Fatalf("the old password signed in: %d %s", p.status, p.url)
	}
	fresh := w.as(w2, "m2")
	fresh.pw = newPW
	tok := fresh.token(t, "spa", "openid", "User.Read")
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", tok.AccessToken, nil), http.StatusOK)

	t.Run("wrong current passwords lock like sign-in failures", func(t *testing.T) {
		s := w.as(w2, "locky")
		tok := s.token(t, "web", "openid", "Directory.AccessAsUser.All").AccessToken
		var last graphResp
		for i := range 6 {
			last = change(tok, "not my password "+string(rune('a'+i)), "an entirely new passphrase "+w.sfx)
			if i < 5 {
				wantBadRequest(t, last, "invalidPassword")
			}
		}
		wantGraphError(t, last, http.StatusTooManyRequests, "tooManyAttempts")
		if last.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// Locked even with the right password.
		wantGraphError(t, change(tok, w.pw, "an entirely new passphrase "+w.sfx), http.StatusTooManyRequests, "tooManyAttempts")
	})
}

// TestGraphConsentRevocation: revoking a consent ends every token the app
// holds for the user at once, and only that app's.
func TestGraphConsentRevocation(t *testing.T) {
	w := startGraphWorld(t)
	x := w.x
	ctx := t.Context()
	s := w.as(x, "cust")
	me := x.user(t, "cust")
	web := s.token(t, "web", "openid", "offline_access", "User.ReadWrite", "User.Read")
	spa := s.token(t, "spa", "openid", "offline_access", "User.Read")
	readOnly := s.token(t, "web", "openid", "User.Read")
	// The consent pages the user accepted stored one consent per app.
	consents := map[string]storage.Consent{}
	for _, client := range []string{x.web, x.spa} {
		c, err := w.env.app.store.GetConsent(ctx, x.id, me.ID, client)
		if err != nil {
			t.Fatalf("consent to %s: %v", client, err)
		}
		consents[client] = c
	}
	if got := strings.Join(consents[x.spa].Scopes, " "); got != "openid offline_access User.Read" {
		t.Fatalf("the SPA's consent: %q", got)
	}
	// Another user's consent, which the caller must not see or delete.
	theirs, err := w.env.app.store.PutConsent(ctx, x.id, storage.Consent{ID: storage.NewID(), TenantID: x.id, ClientID: x.spa,
		UserID: x.user(t, "other").ID, Scopes: []string{"openid"}, ConsentType: "Principal", CreatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}

	r := w.call(t, http.MethodGet, "/v1.0/me/oauth2PermissionGrants", readOnly.AccessToken, nil)
	wantStatus(t, r, http.StatusOK)
	list := r.json["value"].([]any)
	if len(list) != 2 || r.str("@odata.context") != w.env.base+"/v1.0/$metadata#oauth2PermissionGrants" {
		t.Fatalf("list: %s", r.body)
	}
	for _, v := range list {
		g := v.(map[string]any)
		c := consents[g["clientId"].(string)]
		if g["id"] != c.ID || g["consentType"] != "Principal" || g["principalId"] != me.ID ||
			g["scope"] != strings.Join(c.Scopes, " ") || g["resourceId"] != w.env.base+"/v1.0" {
			t.Fatalf("grant %v, consent %+v", g, c)
		}
	}

	wantInsufficientScope(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+consents[x.spa].ID, readOnly.AccessToken, nil), "User.ReadWrite")
	wantGraphError(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+theirs.ID, web.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")
	wantGraphError(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+storage.NewID(), web.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")
	if _, err := w.env.app.store.GetConsent(ctx, x.id, x.user(t, "other").ID, x.spa); err != nil {
		t.Fatalf("another user's consent: %v", err)
	}
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", spa.AccessToken, nil), http.StatusOK)

	// Revoke the SPA's consent, with the web app's token.
	wantStatus(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+consents[x.spa].ID, web.AccessToken, nil), http.StatusNoContent)
	wantInvalidToken(t, w.call(t, http.MethodGet, "/v1.0/me", spa.AccessToken, nil))
	if _, err := spa.c.refresh(spa.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("the SPA's refresh token after revocation: %v, want invalid_grant", err)
	}
	// The web app keeps its tokens.
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", web.AccessToken, nil), http.StatusOK)
	refreshed, err := web.c.refresh(web.RefreshToken)
	if err != nil {
		t.Fatalf("the web app's refresh token: %v", err)
	}
	r = w.call(t, http.MethodGet, "/v1.0/me/oauth2PermissionGrants", refreshed.AccessToken, nil)
	if list := r.json["value"].([]any); len(list) != 1 || list[0].(map[string]any)["clientId"] != x.web {
		t.Fatalf("after revocation: %s", r.body)
	}
	wantGraphError(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+consents[x.spa].ID, refreshed.AccessToken, nil), http.StatusNotFound, "Request_ResourceNotFound")

	// Revoking the calling app's own consent ends the calling token too.
	wantStatus(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+consents[x.web].ID, refreshed.AccessToken, nil), http.StatusNoContent)
	wantInvalidToken(t, w.call(t, http.MethodGet, "/v1.0/me", refreshed.AccessToken, nil))
	if _, err := web.c.refresh(refreshed.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("the web app's refresh token after revoking its consent: %v", err)
	}
	events := w.graphAudit(t, x.id)
	if n := countActivity(events, "consentRevoked"); n != 2 {
		t.Fatalf("%d consentRevoked events, want 2", n)
	}
}

// graphAudit lists the tenant's audit log, newest first.
func (w *graphWorld) graphAudit(t *testing.T, tenantID string) []storage.AuditEvent {
	t.Helper()
	evs, err := w.env.app.store.ListAudit(context.Background(), tenantID, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func countActivity(evs []storage.AuditEvent, activity string) int {
	n := 0
	for _, e := range evs {
		if e.Activity == activity {
			n++
		}
	}
	return n
}

// TestGraphAuthorizationPolicy: an administrator reads and updates the
// policy; the change reads back at once, applies at once, and is audited;
// the audit log serves it.
func TestGraphAuthorizationPolicy(t *testing.T) {
	w := startGraphWorld(t)
	x, w1 := w.x, w.w1
	admin := w.as(w1, "admin")
	write := admin.token(t, "web", "openid", "Policy.ReadWrite.Authorization").AccessToken
	readPol := admin.token(t, "web", "openid", "Policy.Read.All").AccessToken
	audits := admin.token(t, "web", "openid", "AuditLog.Read.All").AccessToken
	userRead := admin.token(t, "web", "openid", "User.Read").AccessToken
	member := w.as(w1, "m1").token(t, "web", graphAllScopes...).AccessToken
	m2 := w1.user(t, "m2")

	r := w.call(t, http.MethodGet, "/v1.0/policies/authorizationPolicy", readPol, nil)
	wantStatus(t, r, http.StatusOK)
	if r.str("id") != "authorizationPolicy" || r.str("@odata.context") != w.env.base+"/v1.0/$metadata#policies/authorizationPolicy/$entity" ||
		r.json["allowedToSignUpEmailBasedSubscriptions"] != true ||
		r.json["defaultUserRolePermissions"].(map[string]any)["allowedToReadOtherUsers"] != true {
		t.Fatalf("policy: %s", r.body)
	}
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/users/"+m2.ID, member, nil), http.StatusOK)

	// Refusals first: none of them changes anything or writes an event.
	wantDenied(t, w.call(t, http.MethodGet, "/v1.0/policies/authorizationPolicy", member, nil))
	wantDenied(t, w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", member, `{"allowedToUseSSPR":false}`))
	wantInsufficientScope(t, w.call(t, http.MethodGet, "/v1.0/policies/authorizationPolicy", userRead, nil), "Policy.Read.All")
	wantInsufficientScope(t, w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", readPol, `{"allowedToUseSSPR":false}`), "Policy.ReadWrite.Authorization")
	wantInsufficientScope(t, w.call(t, http.MethodGet, "/v1.0/auditLogs/directoryAudits", userRead, nil), "AuditLog.Read.All")
	wantDenied(t, w.call(t, http.MethodGet, "/v1.0/auditLogs/directoryAudits", member, nil))
	for _, body := range []string{`{"allowedToUseSSPR":false,"blockMsolPowerShell":true}`, `{"AllowedToUseSSPR":false}`,
		`{"allowedToUseSSPR":"false"}`, `{"allowInvitesFrom":"anybody"}`, `{"defaultUserRolePermissions":{"allowedToReadOtherUsers":false,"x":1}}`,
		`{"allowedToUseSSPR":false}{}`, `[]`} {
		wantBadRequest(t, w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", write, body), "Request_BadRequest")
	}
	if after := w.call(t, http.MethodGet, "/v1.0/policies/authorizationPolicy", readPol, nil); !bytes.Equal(after.body, r.body) {
		t.Fatalf("a refused PATCH changed the policy:\n%s\n%s", r.body, after.body)
	}
	if n := countActivity(w.graphAudit(t, w1.id), "policyUpdated"); n != 0 {
		t.Fatalf("%d policyUpdated events after refusals", n)
	}

	patch := w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", write,
		`{"allowInvitesFrom":"adminsAndGuestInviters","defaultUserRolePermissions":{"allowedToReadOtherUsers":false}}`)
	wantStatus(t, patch, http.StatusNoContent)
	r = w.call(t, http.MethodGet, "/v1.0/policies/authorizationPolicy", write, nil)
	if r.str("allowInvitesFrom") != "adminsAndGuestInviters" || r.json["defaultUserRolePermissions"].(map[string]any)["allowedToReadOtherUsers"] != false ||
		r.json["allowedToSignUpEmailBasedSubscriptions"] != true {
		t.Fatalf("read back: %s", r.body)
	}
	// In force at once: members no longer read each other.
	wantDenied(t, w.call(t, http.MethodGet, "/v1.0/users/"+m2.ID, member, nil))
	// The same PATCH again changes nothing and records nothing.
	wantStatus(t, w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", write,
		`{"allowInvitesFrom":"adminsAndGuestInviters"}`), http.StatusNoContent)

	r = w.call(t, http.MethodGet, "/v1.0/auditLogs/directoryAudits", audits, nil)
	wantStatus(t, r, http.StatusOK)
	events := r.json["value"].([]any)
	if len(events) == 0 {
		t.Fatalf("audit log: %s", r.body)
	}
	ev := events[0].(map[string]any)
	details := map[string]string{}
	for _, d := range ev["additionalDetails"].([]any) {
		d := d.(map[string]any)
		details[d["key"].(string)] = d["value"].(string)
	}
	if ev["activityDisplayName"] != "policyUpdated" || ev["category"] != "Policy" || ev["result"] != "success" ||
		ev["initiatedBy"].(map[string]any)["user"].(map[string]any)["id"] != w1.user(t, "admin").ID ||
		ev["correlationId"] != patch.header.Get("X-Request-Id") ||
		details["allowInvitesFrom"] != "everyone -> adminsAndGuestInviters" ||
		details["defaultUserRolePermissions.allowedToReadOtherUsers"] != "true -> false" || len(details) != 2 {
		t.Fatalf("audit event: %v", ev)
	}
	if n := countActivity(w.graphAudit(t, w1.id), "policyUpdated"); n != 1 {
		t.Fatalf("%d policyUpdated events, want 1", n)
	}
	// Policy.Read.All reads the log too; pages follow @odata.nextLink.
	wantStatus(t, w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", write,
		`{"defaultUserRolePermissions":{"allowedToReadOtherUsers":true}}`), http.StatusNoContent)
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/users/"+m2.ID, member, nil), http.StatusOK)
	page := w.call(t, http.MethodGet, "/v1.0/auditLogs/directoryAudits?$top=1", readPol, nil)
	wantStatus(t, page, http.StatusOK)
	next := page.str("@odata.nextLink")
	if len(page.json["value"].([]any)) != 1 || !strings.HasPrefix(next, w.env.base+"/v1.0/auditLogs/directoryAudits?") {
		t.Fatalf("first page: %s", page.body)
	}
	u, _ := url.Parse(next)
	page2 := w.call(t, http.MethodGet, u.RequestURI(), readPol, nil)
	wantStatus(t, page2, http.StatusOK)
	if id1, id2 := page.json["value"].([]any)[0].(map[string]any)["id"], page2.json["value"].([]any)[0].(map[string]any)["id"]; id1 == id2 || id2 != ev["id"] {
		t.Fatalf("pages: %v then %v (want %v)", id1, id2, ev["id"])
	}
	for q, code := range map[string]string{"$top=0": "Request_BadRequest", "$top=1001": "Request_BadRequest", "$top=x": "Request_BadRequest",
		"$top=01": "Request_BadRequest", "$skiptoken=abc": "Request_BadRequest", "$filter=category%20eq%20'Policy'": "Request_UnsupportedQuery",
		"$top=1&$top=2": "Request_UnsupportedQuery", "$select=nope": "Request_BadRequest"} {
		wantGraphError(t, w.call(t, http.MethodGet, "/v1.0/auditLogs/directoryAudits?"+q, audits, nil), http.StatusBadRequest, code)
	}

	t.Run("external tenants: allowedToReadOtherUsers stays false", func(t *testing.T) {
		tok := w.as(x, "admin").token(t, "web", "openid", "Policy.ReadWrite.Authorization").AccessToken
		r := w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", tok, `{"defaultUserRolePermissions":{"allowedToReadOtherUsers":true}}`)
		wantBadRequest(t, r, "invalidValue", "allowedToReadOtherUsers")
		wantStatus(t, w.call(t, http.MethodPatch, "/v1.0/policies/authorizationPolicy", tok, `{"defaultUserRolePermissions":{"allowedToReadOtherUsers":false}}`), http.StatusNoContent)
		got, err := w.env.app.store.GetTenant(t.Context(), x.id)
		if err != nil || got.Policy.DefaultUserRolePermissions.AllowedToReadOtherUsers {
			t.Fatalf("policy %+v, %v", got.Policy, err)
		}
	})
}

// TestGraphCommonIssuer: a token of the common issuer (iss B/common/v2.0,
// tid the user's home tenant, signed with the common issuer's keys) works
// at the API for the home tenant's data, and revoking the consent ends it.
func TestGraphCommonIssuer(t *testing.T) {
	w := startGraphWorld(t)
	w1 := w.w1
	me := w1.user(t, "m1")
	tok := w.as(w1, "m1").tokenAt(t, storage.CommonTenantID, "web", "openid", "offline_access", "User.Read", "User.ReadWrite")
	_, claims := jwtParts(t, tok.AccessToken)
	if claims["iss"] != w.env.base+"/common/v2.0" || claims["tid"] != w1.id {
		t.Fatalf("claims %v", claims)
	}
	r := w.call(t, http.MethodGet, "/v1.0/me", tok.AccessToken, nil)
	wantStatus(t, r, http.StatusOK)
	if r.str("id") != me.ID {
		t.Fatalf("/me: %s", r.body)
	}
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/users/"+w1.user(t, "m2").ID, tok.AccessToken, nil), http.StatusOK)

	r = w.call(t, http.MethodGet, "/v1.0/me/oauth2PermissionGrants", tok.AccessToken, nil)
	wantStatus(t, r, http.StatusOK)
	list := r.json["value"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["clientId"] != w1.web {
		t.Fatalf("consents: %s", r.body)
	}
	id := list[0].(map[string]any)["id"].(string)
	wantStatus(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+id, tok.AccessToken, nil), http.StatusNoContent)
	wantInvalidToken(t, w.call(t, http.MethodGet, "/v1.0/me", tok.AccessToken, nil))
	if _, err := tok.c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Fatalf("the common issuer's refresh token after revocation: %v, want invalid_grant", err)
	}
}
