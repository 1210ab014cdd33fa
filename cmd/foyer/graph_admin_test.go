package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/storage"
)

const globalAdminRoleID = "62e90394-69f5-4237-9190-012177145e10"

// TestGraphAdminUsers: an administrator lists, creates, updates and
// disables users and assigns the Global Administrator role, never to an
// external user.
func TestGraphAdminUsers(t *testing.T) {
	w := startGraphWorld(t)
	x, w1 := w.x, w.w1
	ctx := context.Background()
	admin := w.as(x, "admin").token(t, "web", "openid", "User.Read", "User.ReadWrite.All", "Directory.AccessAsUser.All").AccessToken
	weak := w.as(x, "admin").token(t, "web", "openid", "User.ReadWrite").AccessToken

	t.Run("list in pages", func(t *testing.T) {
		all := w.call(t, http.MethodGet, "/v1.0/users", admin, nil)
		wantStatus(t, all, http.StatusOK)
		if n := len(all.json["value"].([]any)); n != len(x.users) {
			t.Fatalf("%d users listed, want %d: %s", n, len(x.users), all.body)
		}
		var ids []string
		next := "/v1.0/users?$top=1&$select=displayName,id"
		for next != "" {
			r := w.call(t, http.MethodGet, next, admin, nil)
			wantStatus(t, r, http.StatusOK)
			v := r.json["value"].([]any)
			if len(v) != 1 || len(v[0].(map[string]any)) != 2 {
				t.Fatalf("page: %s", r.body)
			}
			ids = append(ids, v[0].(map[string]any)["id"].(string))
			next = ""
			if l := r.str("@odata.nextLink"); l != "" {
				u, err := url.Parse(l)
				if err != nil || !strings.HasPrefix(l, w.env.base+"/v1.0/users?") {
					t.Fatalf("nextLink %q", l)
				}
				next = u.RequestURI()
			}
		}
		if len(ids) != len(x.users) {
			t.Fatalf("paged through %d users, want %d", len(ids), len(x.users))
		}
		for i := 1; i < len(ids); i++ {
			if ids[i-1] >= ids[i] {
				t.Fatalf("pages out of order: %v", ids)
			}
		}
		wantGraphError(t, w.call(t, http.MethodGet, "/v1.0/users?$skiptoken=x", admin, nil), http.StatusBadRequest, "Request_BadRequest")
	})

	var created string
	t.Run("create", func(t *testing.T) {
		pw := "a brand new passphrase " + w.sfx
		body := map[string]any{"accountEnabled": true, "displayName": "Ivy Internal", "mailNickname": "ivy",
			"userPrincipalName": "Ivy@" + x.domain, "passwordProfile": map[string]any{"password": pw, "forceChangePasswordNextSignIn": false},
			"jobTitle": "Operator"}
		r := w.call(t, http.MethodPost, "/v1.0/users", admin, body)
		wantStatus(t, r, http.StatusCreated)
		created = r.str("id")
		if !storage.IsID(created) || r.str("userPrincipalName") != "ivy@"+x.domain || r.json["creationType"] != nil ||
			r.str("userType") != "Member" || r.json["accountEnabled"] != true || r.str("jobTitle") != "Operator" ||
			r.header.Get("Location") != w.env.base+"/v1.0/users/"+created {
			t.Fatalf("created: %s (Location %q)", r.body, r.header.Get("Location"))
		}
		// Again: the name is taken.
		wantGraphError(t, w.call(t, http.MethodPost, "/v1.0/users", admin, body), http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue")
		for _, tc := range []struct {
			name string
			edit func(map[string]any)
			code string
		}{
			{"weak password", func(m map[string]any) { m["passwordProfile"] = map[string]any{"password": "short"} }, "passwordTooShort"},
			{"no password", func(m map[string]any) { delete(m, "passwordProfile") }, "Request_BadRequest"},
			{"forced change", func(m map[string]any) {
				m["passwordProfile"] = map[string]any{"password": pw, "forceChangePasswordNextSignIn": true}
			}, "Request_BadRequest"},
			{"no name", func(m map[string]any) { delete(m, "userPrincipalName") }, "Request_BadRequest"},
			{"bad UPN", func(m map[string]any) { m["userPrincipalName"] = "not an address" }, "Request_BadRequest"},
			{"userType", func(m map[string]any) { m["userType"] = "Guest" }, "Request_BadRequest"},
			{"identities", func(m map[string]any) { m["identities"] = []any{} }, "Request_BadRequest"},
			{"no accountEnabled", func(m map[string]any) { delete(m, "accountEnabled") }, "Request_BadRequest"},
		} {
			b := map[string]any{}
			for k, v := range body {
				b[k] = v
			}
			b["userPrincipalName"] = "new-" + tc.name[:2] + "@" + x.domain
			tc.edit(b)
			wantBadRequest(t, w.call(t, http.MethodPost, "/v1.0/users", admin, b), tc.code)
		}
		wantInsufficientScope(t, w.call(t, http.MethodPost, "/v1.0/users", weak, body), "User.ReadWrite.All")
		wantDenied(t, w.call(t, http.MethodPost, "/v1.0/users", w.as(x, "cust").token(t, "web", graphAllScopes...).AccessToken, body))
		// The new user signs in with that password.
		u, err := w.env.app.store.GetUser(ctx, x.id, created)
		if err != nil {
			t.Fatal(err)
		}
		x.users["ivy"] = u
		s := w.as(x, "ivy")
		s.pw = pw
		tok := s.token(t, "web", "openid", "User.Read", "User.ReadWrite.All").AccessToken
		wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", tok, nil), http.StatusOK)
		wantDenied(t, w.call(t, http.MethodGet, "/v1.0/users", tok, nil))

		t.Run("assign the Global Administrator role", func(t *testing.T) {
			assign := map[string]any{"principalId": created, "roleDefinitionId": globalAdminRoleID, "directoryScopeId": "/"}
			r := w.call(t, http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", admin, assign)
			wantStatus(t, r, http.StatusCreated)
			if r.str("principalId") != created || r.str("roleDefinitionId") != globalAdminRoleID || r.str("directoryScopeId") != "/" || r.str("id") == "" {
				t.Fatalf("assignment: %s", r.body)
			}
			// The role applies to the next request of the same token.
			wantStatus(t, w.call(t, http.MethodGet, "/v1.0/users", tok, nil), http.StatusOK)
			// Again: same answer, no second role.
			wantStatus(t, w.call(t, http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", admin, assign), http.StatusCreated)
			if u, _ := w.env.app.store.GetUser(ctx, x.id, created); len(u.Roles) != 1 {
				t.Fatalf("roles %v", u.Roles)
			}
			if n := countActivity(w.graphAudit(t, x.id), "roleAssigned"); n != 1 {
				t.Fatalf("%d roleAssigned events", n)
			}
		})
	})

	t.Run("no role for an external user", func(t *testing.T) {
		sssu := storage.User{ID: storage.NewID(), DisplayName: "Signed Up", Mail: "signedup@" + w1.domain,
			UserPrincipalName: "signedup@" + w1.domain, UserType: "Member", CreationType: "SelfServiceSignUp", AccountEnabled: true,
			Identities: []storage.ObjectIdentity{{SignInType: "emailAddress", Issuer: w1.name, IssuerAssignedID: "signedup@" + w1.domain}}}
		if err := w.env.app.store.CreateUser(ctx, w1.id, sssu, ""); err != nil {
			t.Fatal(err)
		}
		customer := storage.User{ID: storage.NewID(), DisplayName: "Customer", Mail: "customer@" + x.domain,
			UserPrincipalName: "customer@" + x.domain, UserType: "Member", CreationType: "SelfServiceSignUp", AccountEnabled: true,
			Identities: []storage.ObjectIdentity{{SignInType: "emailAddress", Issuer: x.name, IssuerAssignedID: "customer@" + x.domain}}}
		if err := w.env.app.store.CreateUser(ctx, x.id, customer, ""); err != nil {
			t.Fatal(err)
		}
		w1admin := w.as(w1, "admin").token(t, "web", "openid", "Directory.AccessAsUser.All").AccessToken
		for _, tc := range []struct {
			tok, principal string
		}{
			{admin, x.user(t, "cust").ID}, // admin-created, emailAddress identity only
			{admin, customer.ID},          // SelfServiceSignUp
			{w1admin, sssu.ID},            // SelfServiceSignUp in a workforce tenant
		} {
			r := w.call(t, http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", tc.tok,
				map[string]any{"principalId": tc.principal, "roleDefinitionId": globalAdminRoleID, "directoryScopeId": "/"})
			wantBadRequest(t, r, "externalUserCannotHoldRole")
		}
		// A workforce member may be assigned the role.
		r := w.call(t, http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", w1admin,
			map[string]any{"principalId": w1.user(t, "m2").ID, "roleDefinitionId": globalAdminRoleID, "directoryScopeId": "/"})
		wantStatus(t, r, http.StatusCreated)
		for _, body := range []map[string]any{
			{"principalId": created, "roleDefinitionId": storage.NewID(), "directoryScopeId": "/"},
			{"principalId": created, "roleDefinitionId": globalAdminRoleID, "directoryScopeId": "/administrativeUnits/x"},
			{"principalId": created, "roleDefinitionId": globalAdminRoleID},
			{"principalId": "not-a-guid", "roleDefinitionId": globalAdminRoleID, "directoryScopeId": "/"},
			{"PrincipalId": created, "roleDefinitionId": globalAdminRoleID, "directoryScopeId": "/"},
		} {
			wantBadRequest(t, w.call(t, http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", admin, body), "Request_BadRequest")
		}
		// A user of another tenant, or none.
		for _, id := range []string{w1.user(t, "m1").ID, storage.NewID()} {
			r := w.call(t, http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", admin,
				map[string]any{"principalId": id, "roleDefinitionId": globalAdminRoleID, "directoryScopeId": "/"})
			wantGraphError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
		}
		for _, u := range []storage.User{x.user(t, "cust"), customer} {
			if got, _ := w.env.app.store.GetUser(ctx, x.id, u.ID); len(got.Roles) != 0 {
				t.Fatalf("%s holds %v", u.ID, got.Roles)
			}
		}
	})

	t.Run("disable and enable", func(t *testing.T) {
		other := x.user(t, "other")
		s := w.as(x, "other")
		tok := s.token(t, "web", "openid", "offline_access", "User.Read")
		wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", tok.AccessToken, nil), http.StatusOK)
		wantInsufficientScope(t, w.call(t, http.MethodPatch, "/v1.0/users/"+other.ID, weak, `{"accountEnabled":false}`), "User.ReadWrite.All")
		wantBadRequest(t, w.call(t, http.MethodPatch, "/v1.0/me", admin, `{"accountEnabled":false}`), "cannotDisableSelf")
		wantBadRequest(t, w.call(t, http.MethodPatch, "/v1.0/users/"+other.ID, admin, `{"accountEnabled":"no"}`), "Request_BadRequest", "'accountEnabled'")
		wantBadRequest(t, w.call(t, http.MethodPatch, "/v1.0/users/"+other.ID, admin, `{"accountEnabled":false,"mail":"x@y.example"}`), "Request_BadRequest", "'mail'")
		wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", tok.AccessToken, nil), http.StatusOK)

		wantStatus(t, w.call(t, http.MethodPatch, "/v1.0/users/"+other.ID, admin, `{"accountEnabled":false}`), http.StatusNoContent)
		r := w.call(t, http.MethodGet, "/v1.0/users/"+other.ID, admin, nil)
		if r.json["accountEnabled"] != false {
			t.Fatalf("after disabling: %s", r.body)
		}
		wantInvalidToken(t, w.call(t, http.MethodGet, "/v1.0/me", tok.AccessToken, nil))
		if _, err := tok.c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("a disabled user's refresh token: %v, want invalid_grant", err)
		}
		if p := w.as(x, "other").signInWith(t, w.pw); p.status != http.StatusOK {
			t.Fatalf("a disabled user signed in: %d %s", p.status, p.url)
		}
		wantStatus(t, w.call(t, http.MethodPatch, "/v1.0/users/"+other.UserPrincipalName, admin, `{"accountEnabled":true}`), http.StatusNoContent)
		fresh := w.as(x, "other").token(t, "web", "openid", "User.Read")
		wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", fresh.AccessToken, nil), http.StatusOK)
		var details map[string]string
		for _, e := range w.graphAudit(t, x.id) {
			if e.Activity == "userUpdated" && e.Target == other.ID && details == nil {
				details = e.Properties
			}
		}
		if details["accountEnabled"] != "false -> true" {
			t.Fatalf("last userUpdated of %s: %v", other.ID, details)
		}
	})
}
