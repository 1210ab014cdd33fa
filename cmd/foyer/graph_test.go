package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/storage"
)

// TestGraphPermissionTable walks the table of DESIGN.md section 5 for an
// external user, workforce members whose tenant does and does not let them
// read other users, and administrators.
func TestGraphPermissionTable(t *testing.T) {
	w := startGraphWorld(t)
	x, w1, w2 := w.x, w.w1, w.w2

	type actor struct {
		name  string
		tn    *graphTenant
		local string
		other string // another user of the same tenant
		// tenantReads: the tenant lets members read other users' basic
		// profiles.
		tenantReads bool
		admin       bool
	}
	actors := []actor{
		{"external user", x, "cust", "other", false, false},
		{"workforce member, allowedToReadOtherUsers", w1, "m1", "m2", true, false},
		{"workforce member, not allowedToReadOtherUsers", w2, "m1", "m2", false, false},
		{"administrator of an external tenant", x, "admin", "cust", false, true},
		{"administrator of a workforce tenant", w1, "admin", "m1", true, true},
	}
	for _, a := range actors {
		t.Run(a.name, func(t *testing.T) {
			s := w.as(a.tn, a.local)
			me := a.tn.user(t, a.local)
			other := a.tn.user(t, a.other)
			read := s.token(t, "web", "openid", "User.Read").AccessToken
			readWrite := s.token(t, "web", "openid", "User.ReadWrite").AccessToken
			everything := s.token(t, "web", graphAllScopes...).AccessToken
			nobody := storage.NewID()
			nobodyUPN := "nobody@" + a.tn.domain

			t.Run("GET /me and /users/{own id or UPN}: 200, own profile", func(t *testing.T) {
				for _, tok := range []string{read, readWrite} {
					for _, p := range []string{"/v1.0/me", "/v1.0/users/" + me.ID, "/v1.0/users/" + url.PathEscape(me.UserPrincipalName),
						"/v1.0/users/" + strings.ToUpper(me.ID), "/v1.0/users/" + strings.ToUpper(me.UserPrincipalName)} {
						r := w.call(t, http.MethodGet, p, tok, nil)
						wantStatus(t, r, http.StatusOK)
						if r.str("id") != me.ID || r.str("mail") != me.Mail || r.str("displayName") != me.DisplayName ||
							r.str("@odata.context") != w.env.base+"/v1.0/$metadata#users/$entity" {
							t.Fatalf("GET %s: %s", p, r.body)
						}
						if _, ok := r.json["roles"]; ok {
							t.Fatalf("roles leaked: %s", r.body)
						}
					}
				}
				r := w.call(t, http.MethodGet, "/v1.0/me?$select=displayName,mail", read, nil)
				wantStatus(t, r, http.StatusOK)
				if len(r.json) != 3 || r.str("displayName") != me.DisplayName ||
					r.str("@odata.context") != w.env.base+"/v1.0/$metadata#users(displayName,mail)/$entity" {
					t.Fatalf("$select: %s", r.body)
				}
				wantBadRequest(t, w.call(t, http.MethodGet, "/v1.0/me?$select=passwordHash", read, nil), "Request_BadRequest", "'passwordHash'")
				wantBadRequest(t, w.call(t, http.MethodGet, "/v1.0/me?$filter=x", read, nil), "Request_UnsupportedQuery", "$filter")
			})

			t.Run("PATCH /me and /users/{own id or UPN}: 204 with User.ReadWrite", func(t *testing.T) {
				for i, p := range []string{"/v1.0/me", "/v1.0/users/" + me.ID, "/v1.0/users/" + me.UserPrincipalName} {
					city := "City " + string(rune('A'+i))
					r := w.call(t, http.MethodPatch, p, readWrite, map[string]any{"city": city, "jobTitle": "Tester"})
					wantStatus(t, r, http.StatusNoContent)
					if len(r.body) != 0 {
						t.Fatalf("204 with a body: %s", r.body)
					}
					got := w.call(t, http.MethodGet, "/v1.0/me", read, nil)
					if got.str("city") != city || got.str("jobTitle") != "Tester" {
						t.Fatalf("after PATCH %s: %s", p, got.body)
					}
				}
				wantInsufficientScope(t, w.call(t, http.MethodPatch, "/v1.0/me", read, map[string]any{"city": "X"}), "User.ReadWrite")
			})

			t.Run("POST /me/changePassword: Directory.AccessAsUser.All", func(t *testing.T) {
				body := map[string]string{"currentPassword": "not the password", "newPassword": "an entirely new passphrase " + w.sfx}
				for _, tok := range []string{read, readWrite} {
					wantInsufficientScope(t, w.call(t, http.MethodPost, "/v1.0/me/changePassword", tok, body), "Directory.AccessAsUser.All")
				}
				// With the scope the request reaches the password check
				// (a wrong current password: nothing changes here; the
				// change itself is TestGraphChangePassword's).
				wantBadRequest(t, w.call(t, http.MethodPost, "/v1.0/me/changePassword", everything, body), "invalidPassword")
			})

			t.Run("consents: list with User.Read, revoke with User.ReadWrite", func(t *testing.T) {
				r := w.call(t, http.MethodGet, "/v1.0/me/oauth2PermissionGrants", read, nil)
				wantStatus(t, r, http.StatusOK)
				list, _ := r.json["value"].([]any)
				if len(list) != 1 || list[0].(map[string]any)["clientId"] != a.tn.web || list[0].(map[string]any)["principalId"] != me.ID {
					t.Fatalf("consents: %s", r.body)
				}
				id := list[0].(map[string]any)["id"].(string)
				wantInsufficientScope(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+id, read, nil), "User.ReadWrite")
				wantGraphError(t, w.call(t, http.MethodDelete, "/v1.0/me/oauth2PermissionGrants/"+storage.NewID(), readWrite, nil),
					http.StatusNotFound, "Request_ResourceNotFound")
			})

			t.Run("another user, or none, by id or UPN", func(t *testing.T) {
				refs := []string{other.ID, other.UserPrincipalName, nobody, nobodyUPN, "not-an-id"}
				for _, tok := range []string{read, readWrite, everything} {
					var first graphResp
					for i, ref := range refs {
						r := w.call(t, http.MethodGet, "/v1.0/users/"+url.PathEscape(ref), tok, nil)
						exists := ref == other.ID || ref == other.UserPrincipalName
						switch {
						case (a.admin && tok == everything || a.tenantReads) && !exists:
							wantGraphError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
						case a.admin && tok == everything:
							wantStatus(t, r, http.StatusOK)
							if r.str("id") != other.ID || r.json["identities"] == nil || r.json["accountEnabled"] != true {
								t.Fatalf("GET %s: %s", ref, r.body)
							}
						case a.tenantReads:
							// The basic profile only.
							wantStatus(t, r, http.StatusOK)
							if r.str("id") != other.ID || r.str("displayName") != other.DisplayName || r.str("mail") != other.Mail || len(r.json) != 7 {
								t.Fatalf("GET %s: %s", ref, r.body)
							}
						case a.admin:
							wantInsufficientScope(t, r, "User.ReadWrite.All")
						default:
							// The same 403 for another user and for none.
							wantDenied(t, r)
							if i == 0 {
								first = r
							} else {
								sameRefusal(t, "GET "+ref, first, r)
							}
						}
						// Nobody but an administrator writes another user.
						r = w.call(t, http.MethodPatch, "/v1.0/users/"+url.PathEscape(ref), tok, map[string]any{"city": "Hacked"})
						switch {
						case a.admin && tok == everything && exists:
							wantStatus(t, r, http.StatusNoContent)
						case a.admin && tok == everything:
							wantGraphError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
						case a.admin:
							wantInsufficientScope(t, r, "User.ReadWrite.All")
						default:
							wantDenied(t, r)
							sameRefusal(t, "PATCH "+ref, first403(t, w, tok), r)
						}
					}
				}
				if got, _ := w.env.app.store.GetUser(t.Context(), a.tn.id, other.ID); got.City == "Hacked" && !a.admin {
					t.Fatal("another user was changed")
				}
			})

			t.Run("GET /users, /groups, /devices", func(t *testing.T) {
				for _, tok := range []string{read, readWrite, everything} {
					for _, p := range []string{"/v1.0/users", "/v1.0/groups", "/v1.0/devices", "/v1.0/groups/" + storage.NewID()} {
						r := w.call(t, http.MethodGet, p, tok, nil)
						switch {
						case !a.admin:
							wantDenied(t, r)
						case tok != everything:
							scope := "Directory.AccessAsUser.All"
							if p == "/v1.0/users" {
								scope = "User.ReadWrite.All"
							}
							wantInsufficientScope(t, r, scope)
						case strings.HasPrefix(p, "/v1.0/groups/"):
							wantGraphError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
						default:
							wantStatus(t, r, http.StatusOK)
							if _, ok := r.json["value"].([]any); !ok {
								t.Fatalf("GET %s: %s", p, r.body)
							}
						}
					}
				}
			})

			t.Run("admin operations", func(t *testing.T) {
				for _, op := range []struct{ method, path, body string }{
					{http.MethodGet, "/v1.0/policies/authorizationPolicy", ""},
					{http.MethodPatch, "/v1.0/policies/authorizationPolicy", `{}`},
					{http.MethodGet, "/v1.0/auditLogs/directoryAudits", ""},
					{http.MethodPost, "/v1.0/users", `{}`},
					{http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", `{}`},
				} {
					var body any
					if op.body != "" {
						body = op.body
					}
					r := w.call(t, op.method, op.path, everything, body)
					if !a.admin {
						wantDenied(t, r)
						continue
					}
					if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized {
						t.Fatalf("%s %s as an administrator with every scope: %s", op.method, op.path, r)
					}
					wantInsufficientScope(t, w.call(t, op.method, op.path, read, body), map[string]string{
						"/v1.0/policies/authorizationPolicy":             map[bool]string{true: "Policy.Read.All", false: "Policy.ReadWrite.Authorization"}[op.method == http.MethodGet],
						"/v1.0/auditLogs/directoryAudits":                "AuditLog.Read.All",
						"/v1.0/users":                                    "User.ReadWrite.All",
						"/v1.0/roleManagement/directory/roleAssignments": "Directory.AccessAsUser.All",
					}[op.path])
				}
			})

			t.Run("nothing without a token", func(t *testing.T) {
				r := w.call(t, http.MethodGet, "/v1.0/me", "", nil)
				wantGraphError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
				if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") || strings.Contains(h, "error=") {
					t.Fatalf("WWW-Authenticate %q: RFC 6750 3.1 wants no error code without credentials", h)
				}
				// Never from the query string.
				r = w.call(t, http.MethodGet, "/v1.0/me?access_token="+url.QueryEscape(read), "", nil)
				wantGraphError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
				r = w.call(t, http.MethodGet, "/v1.0/nonsense", "", nil)
				wantGraphError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
				r = w.call(t, http.MethodGet, "/v1.0/nonsense", read, nil)
				wantGraphError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
				r = w.call(t, http.MethodPut, "/v1.0/me", read, "{}")
				wantGraphError(t, r, http.StatusMethodNotAllowed, "Request_BadRequest")
				if a := r.header.Get("Allow"); a != "GET, HEAD, PATCH" {
					t.Fatalf("Allow %q", a)
				}
			})
		})
	}

	t.Run("a tenant's token never reaches another tenant's users", func(t *testing.T) {
		tok := w.as(x, "admin").token(t, "web", graphAllScopes...).AccessToken
		for _, u := range []storage.User{w1.user(t, "m1"), w2.user(t, "m1")} {
			wantGraphError(t, w.call(t, http.MethodGet, "/v1.0/users/"+u.ID, tok, nil), http.StatusNotFound, "Request_ResourceNotFound")
			wantGraphError(t, w.call(t, http.MethodGet, "/v1.0/users/"+u.UserPrincipalName, tok, nil), http.StatusNotFound, "Request_ResourceNotFound")
			wantGraphError(t, w.call(t, http.MethodPatch, "/v1.0/users/"+u.ID, tok, `{"city":"x"}`), http.StatusNotFound, "Request_ResourceNotFound")
		}
		r := w.call(t, http.MethodGet, "/v1.0/users?$top=999", tok, nil)
		wantStatus(t, r, http.StatusOK)
		foreign := map[string]bool{}
		for _, g := range []*graphTenant{w1, w2} {
			for _, u := range g.users {
				foreign[u.ID] = true
			}
		}
		for _, v := range r.json["value"].([]any) {
			if id := v.(map[string]any)["id"].(string); foreign[id] {
				t.Fatalf("tenant x lists user %s of another tenant", id)
			}
		}
		if n := len(r.json["value"].([]any)); n < len(x.users) {
			t.Fatalf("tenant x lists %d users, has at least %d", n, len(x.users))
		}
	})

	t.Run("a guest in a workforce tenant reads no one", func(t *testing.T) {
		ctx := context.Background()
		guest := storage.User{ID: storage.NewID(), DisplayName: "Guest", Mail: "guest@" + w1.domain,
			UserPrincipalName: "guest@" + w1.domain, UserType: "Guest", CreationType: "Invitation", AccountEnabled: true,
			Identities: []storage.ObjectIdentity{}}
		hash, err := w.env.app.store.PasswordHash(ctx, w1.id, w1.user(t, "m1").ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.env.app.store.CreateUser(ctx, w1.id, guest, hash); err != nil {
			t.Fatal(err)
		}
		w1.users["guest"] = guest
		tok := w.as(w1, "guest").token(t, "web", "openid", "User.Read").AccessToken
		wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", tok, nil), http.StatusOK)
		wantDenied(t, w.call(t, http.MethodGet, "/v1.0/users/"+w1.user(t, "m1").ID, tok, nil))
	})
}

// first403 is the answer to reading a user that does not exist, for
// comparison with other refusals.
func first403(t *testing.T, w *graphWorld, tok string) graphResp {
	t.Helper()
	return w.call(t, http.MethodPatch, "/v1.0/users/"+storage.NewID(), tok, map[string]any{"city": "Hacked"})
}
