package graph

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// userObject is u in Graph's user shape; unset properties are null.
//
// It has Graph's default /me set (businessPhones, displayName, givenName,
// jobTitle, mail, mobilePhone, officeLocation, preferredLanguage, surname,
// userPrincipalName, id), so that an app written for Graph finds every
// property it reads there. Foyer keeps no telephone numbers or offices:
// businessPhones is always an empty array (Graph never writes it null),
// mobilePhone and officeLocation always null, and none of the three can be
// set (userKnown: 400 naming the property).
func userObject(u storage.User) object { return appendUser(nil, u) }

// appendUser appends the members of userObject(u) to o.
func appendUser(o object, u storage.User) object {
	ids := make([]object, len(u.Identities))
	for i, id := range u.Identities {
		ids[i] = object{{"signInType", id.SignInType}, {"issuer", id.Issuer}, {"issuerAssignedId", id.IssuerAssignedID}}
	}
	return append(o,
		member{"id", u.ID},
		member{"businessPhones", []string{}},
		member{"displayName", nullable(u.DisplayName)},
		member{"givenName", nullable(u.GivenName)},
		member{"surname", nullable(u.Surname)},
		member{"mail", nullable(u.Mail)},
		member{"userPrincipalName", nullable(u.UserPrincipalName)},
		member{"jobTitle", nullable(u.JobTitle)},
		member{"mobilePhone", nil},
		member{"officeLocation", nil},
		member{"city", nullable(u.City)},
		member{"country", nullable(u.Country)},
		member{"postalCode", nullable(u.PostalCode)},
		member{"state", nullable(u.State)},
		member{"streetAddress", nullable(u.StreetAddress)},
		member{"preferredLanguage", nullable(u.PreferredLanguage)},
		member{"userType", nullable(u.UserType)},
		member{"creationType", nullable(u.CreationType)},
		member{"identities", ids},
		member{"externalUserState", nullable(u.ExternalUserState)},
		member{"accountEnabled", u.AccountEnabled},
		member{"createdDateTime", graphTime(u.CreatedDateTime)},
	)
}

// userProperties are the properties $select may name on a user.
var userProperties = userObject(storage.User{}).names()

// basicProperties are a user's basic profile: what members of a workforce
// tenant may read of each other (Graph's User.ReadBasic.All set).
var basicProperties = []string{"id", "displayName", "givenName", "surname", "mail", "userPrincipalName"}

func graphTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// writeUser answers with one user, full or basic, restricted to $select.
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, u storage.User, basic bool) error {
	opts, err := queryOptions(r, "$select")
	if err != nil {
		return err
	}
	v, ok := opts["$select"]
	sel, err := parseSelect(v, ok, "user", userProperties)
	if err != nil {
		return err
	}
	ctx := member{"@odata.context", a.contextURL("users", sel, true)}
	o := appendUser(append(make(object, 0, len(userProperties)+1), ctx), u)
	if basic {
		o = o.pick(basicProperties)
	}
	a.writeJSON(w, r, http.StatusOK, o.pick(sel))
	return nil
}

func (a *API) getMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needOwnRead(); err != nil {
		return err
	}
	return a.writeUser(w, r, c.user, false)
}

// needOwnRead checks the scope to read one's own profile: User.Read or
// User.ReadWrite (or an administrator's User.ReadWrite.All).
func (c *caller) needOwnRead() error {
	if c.admin() && c.has(scopeUserReadWriteAll) {
		return nil
	}
	return c.need(scopeUserRead, scopeUserReadWrite)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	ref := r.PathValue("id")
	if c.isSelf(ref) {
		if err := c.needOwnRead(); err != nil {
			return err
		}
		return a.writeUser(w, r, c.user, false)
	}
	if c.admin() && c.has(scopeUserReadWriteAll) {
		u, err := a.lookup(r, c, ref)
		if err != nil {
			return err
		}
		return a.writeUser(w, r, u, false)
	}
	if c.tenant.Kind == storage.Workforce && c.user.UserType != "Guest" {
		// The policy is read from the store, not the resolver's cached
		// tenant, so that an administrator's change applies at once.
		p, err := a.cfg.Policies.Get(r.Context(), c.tenant.ID)
		if err != nil {
			return err
		}
		c.tenant.Policy = p
		if c.mayReadOthers() {
			if err := c.need(scopeUserRead, scopeUserReadWrite); err != nil {
				return err
			}
			u, err := a.lookup(r, c, ref)
			if err != nil {
				return err
			}
			return a.writeUser(w, r, u, true)
		}
	}
	if c.admin() {
		return insufficientScope(scopeUserReadWriteAll)
	}
	// Another user, or none: the same answer either way, and nothing is
	// looked up.
	return denied()
}

// lookup finds the user ref (an ID or a userPrincipalName) names in the
// caller's tenant, or answers 404.
func (a *API) lookup(r *http.Request, c *caller, ref string) (storage.User, error) {
	ctx := r.Context()
	id := strings.ToLower(ref)
	if !storage.IsID(id) {
		if !strings.Contains(ref, "@") || len(ref) > 320 {
			return storage.User{}, notFound()
		}
		var err error
		if id, err = a.cfg.Store.UserIDByUPN(ctx, c.tenant.ID, ref); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return storage.User{}, notFound()
			}
			return storage.User{}, err
		}
	}
	u, err := a.cfg.Store.GetUser(ctx, c.tenant.ID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, notFound()
	}
	return u, err
}

func (a *API) patchMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.admin() && c.has(scopeUserReadWriteAll) {
		return a.patch(w, r, c, c.user.ID, adminPatch)
	}
	if err := c.need(scopeUserReadWrite); err != nil {
		return err
	}
	return a.patch(w, r, c, c.user.ID, selfPatch)
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	ref := r.PathValue("id")
	if c.admin() && c.has(scopeUserReadWriteAll) {
		u := c.user
		if !c.isSelf(ref) {
			var err error
			if u, err = a.lookup(r, c, ref); err != nil {
				return err
			}
		}
		return a.patch(w, r, c, u.ID, adminPatch)
	}
	if !c.isSelf(ref) {
		if c.admin() {
			return insufficientScope(scopeUserReadWriteAll)
		}
		return denied() // another user or none, alike
	}
	if err := c.need(scopeUserReadWrite); err != nil {
		return err
	}
	return a.patch(w, r, c, c.user.ID, selfPatch)
}

// patch applies a PATCH body to the user: every property is validated
// before the one compare-and-swap update, so a refused body writes
// nothing. Disabling an account revokes its grants and sessions.
func (a *API) patch(w http.ResponseWriter, r *http.Request, c *caller, userID string, s *schema) error {
	if _, err := queryOptions(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	p, err := decodeUserPatch(body, s)
	if err != nil {
		return err
	}
	if p.accountEnabled != nil && !*p.accountEnabled && userID == c.user.ID {
		return fault.New(fault.Invalid, "cannotDisableSelf", "Administrators cannot disable their own account.")
	}
	if !p.empty() {
		ctx := r.Context()
		var changed map[string]string
		_, err := a.cfg.Store.UpdateUser(ctx, c.tenant.ID, userID, func(u *storage.User) error {
			changed = p.apply(u)
			return nil
		})
		if errors.Is(err, storage.ErrNotFound) {
			return notFound()
		}
		if err != nil {
			return err
		}
		if len(changed) > 0 {
			a.record(r, c, storage.AuditEvent{Activity: "userUpdated", Category: audit.CategoryUserManagement,
				Target: userID, Properties: changedNames(changed)})
		}
		if p.accountEnabled != nil && !*p.accountEnabled {
			if err := a.endAccess(r, c, userID); err != nil {
				return err
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changedNames keeps the names of changed profile properties for the audit
// log, not their values (personal data), except accountEnabled's.
func changedNames(changed map[string]string) map[string]string {
	out := make(map[string]string, len(changed))
	for k, v := range changed {
		if k != "accountEnabled" {
			v = "changed"
		}
		out[k] = v
	}
	return out
}

// endAccess revokes every grant (so every refresh and access token) and
// browser session of a disabled user, in the tenant and on the common
// issuer.
func (a *API) endAccess(r *http.Request, c *caller, userID string) error {
	ctx := r.Context()
	for _, tid := range grantTenants(c.tenant.ID) {
		if _, err := a.cfg.Store.RevokeUserGrants(ctx, tid, userID, ""); err != nil {
			return err
		}
		if err := a.cfg.Store.DeleteUserSessions(ctx, tid, userID); err != nil {
			return err
		}
	}
	return nil
}

// grantTenants are the tenants that may hold a user's grants and sessions:
// the user's own, and the common issuer's (whose grants are stored under
// its own tenant ID).
func grantTenants(tenantID string) []string {
	return []string{tenantID, storage.CommonTenantID}
}

// changePasswordBody is POST /me/changePassword.
var changePasswordBody = &schema{typeName: "changePassword", props: map[string]property{
	"currentPassword": {kind: kindString, required: true, check: maxBytes(1024)},
	"newPassword":     {kind: kindString, required: true, check: maxBytes(1024)},
}}

// maxBytes bounds a secret without judging it (the password policy does).
func maxBytes(n int) func(string) (string, string) {
	return func(s string) (string, string) {
		if len(s) > n {
			return "", "is too long"
		}
		return s, ""
	}
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.need(scopeDirectoryAsUser); err != nil {
		return err
	}
	f, err := readInput(w, r, changePasswordBody)
	if err != nil {
		return err
	}
	err = a.cfg.Passwords.Change(r.Context(), account.PasswordChange{
		Tenant: c.tenant, User: c.user, Current: f["currentPassword"].str, New: f["newPassword"].str,
		IP: clientIP(r), KeepGrant: c.claims.GrantID(),
	})
	if e := fault.From(err); e != nil {
		if e.Kind == fault.Invalid || e.Kind == fault.TooMany {
			a.record(r, c, storage.AuditEvent{Activity: "passwordChanged", Category: audit.CategoryUserManagement,
				Target: c.user.ID, Result: audit.Failure, Reason: e.Code})
		}
		return err
	}
	a.record(r, c, storage.AuditEvent{Activity: "passwordChanged", Category: audit.CategoryUserManagement, Target: c.user.ID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listUsers serves an administrator's GET /users, sorted by ID, in pages
// of $top (default 100) with @odata.nextLink.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needAdmin(scopeUserReadWriteAll); err != nil {
		return err
	}
	opts, err := queryOptions(r, "$select", "$top", "$skiptoken")
	if err != nil {
		return err
	}
	v, ok := opts["$select"]
	sel, err := parseSelect(v, ok, "user", userProperties)
	if err != nil {
		return err
	}
	v, ok = opts["$top"]
	top, err := parseTop(v, ok, 100, 999)
	if err != nil {
		return err
	}
	after, ok := opts["$skiptoken"]
	if ok && !storage.IsID(after) {
		return badRequest("The $skiptoken is not valid.")
	}
	users, err := a.cfg.Store.ListUsers(r.Context(), c.tenant.ID)
	if err != nil {
		return err
	}
	slices.SortFunc(users, func(x, y storage.User) int { return strings.Compare(x.ID, y.ID) })
	i, _ := slices.BinarySearchFunc(users, after, func(u storage.User, id string) int { return strings.Compare(u.ID, id) })
	if i < len(users) && users[i].ID == after {
		i++
	}
	page := users[i:]
	next := ""
	if len(page) > top {
		page = page[:top]
		next = a.nextLink("users", top, page[top-1].ID, sel)
	}
	items := make([]object, len(page))
	for j, u := range page {
		items[j] = userObject(u).pick(sel)
	}
	a.writeJSON(w, r, http.StatusOK, a.collection("users", sel, items, next))
	return nil
}

// createUserBody is an administrator's POST /users.
var createUserBody = &schema{typeName: "microsoft.graph.user",
	props: withProps(selfProps, map[string]property{
		"displayName":       {kind: kindString, required: true, check: account.Text(256, false)},
		"accountEnabled":    {kind: kindBool, required: true},
		"mail":              {kind: kindString, nullable: true, check: maxBytes(254)},
		"userPrincipalName": {kind: kindString, nullable: true, check: maxBytes(254)},
		"mailNickname":      {kind: kindString, nullable: true, check: account.Text(64, true)},
		"passwordProfile": {kind: kindObject, required: true, object: &schema{typeName: "microsoft.graph.passwordProfile",
			props: map[string]property{
				"password":                             {kind: kindString, required: true, check: maxBytes(1024)},
				"forceChangePasswordNextSignIn":        {kind: kindBool},
				"forceChangePasswordNextSignInWithMfa": {kind: kindBool},
			}}},
	}),
	known: without(userKnown, "accountEnabled", "mail", "userPrincipalName", "mailNickname", "passwordProfile"),
}

// createUser serves an administrator's POST /users: a Member created by an
// admin (creationType null). A user given a userPrincipalName is an
// internal user (userPrincipalName identity, may hold roles); one given
// only mail is an external user (emailAddress identity). The password must
// pass the tenant's policy.
func (a *API) createUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needAdmin(scopeUserReadWriteAll); err != nil {
		return err
	}
	f, err := readInput(w, r, createUserBody)
	if err != nil {
		return err
	}
	pp := f["passwordProfile"].obj
	if pp["forceChangePasswordNextSignIn"].b || pp["forceChangePasswordNextSignInWithMfa"].b {
		return badRequest("Property 'passwordProfile.forceChangePasswordNextSignIn' may only be false: Foyer does not force password changes.")
	}
	u := storage.User{
		ID: storage.NewID(), UserType: "Member", AccountEnabled: f["accountEnabled"].b,
		CreatedDateTime: a.cfg.Clock().UTC().Truncate(time.Second), Identities: []storage.ObjectIdentity{},
	}
	for name, v := range f {
		if p := account.ProfileValue(&u, name); p != nil {
			*p = v.str
		}
	}
	mail, upn := f["mail"].str, f["userPrincipalName"].str
	if mail == "" && upn == "" {
		return badRequest("Property 'mail' or 'userPrincipalName' is required.")
	}
	if mail != "" {
		if u.Mail, err = account.NormalizeEmail(mail); err != nil {
			return badRequest("Property 'mail' is not a valid email address.")
		}
		u.Identities = append(u.Identities, storage.ObjectIdentity{SignInType: "emailAddress", Issuer: c.tenant.Name, IssuerAssignedID: u.Mail})
	}
	u.UserPrincipalName = u.Mail
	if upn != "" {
		if u.UserPrincipalName, err = account.NormalizeEmail(upn); err != nil {
			return badRequest("Property 'userPrincipalName' must have the form user@domain.")
		}
		u.Identities = append(u.Identities, storage.ObjectIdentity{SignInType: signInUPN, Issuer: c.tenant.Name, IssuerAssignedID: u.UserPrincipalName})
	}
	pw := pp["password"].str
	if err := account.CheckNewPassword(c.tenant, pw, u.Mail); err != nil {
		return err
	}
	hash, err := a.cfg.Hasher.Hash(r.Context(), pw)
	if err != nil {
		return err
	}
	if err := a.cfg.Store.CreateUser(r.Context(), c.tenant.ID, u, hash); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return fault.Wrap(err, fault.Conflict, "Request_MultipleObjectsWithSameKeyValue",
				"Another user has the same mail or userPrincipalName.")
		}
		return err
	}
	a.record(r, c, storage.AuditEvent{Activity: "userCreated", Category: audit.CategoryUserManagement, Target: u.ID,
		Properties: map[string]string{"accountEnabled": strconv.FormatBool(u.AccountEnabled), "internal": strconv.FormatBool(upn != "")}})
	w.Header().Set("Location", a.cfg.URLs.GraphResource()+"/users/"+u.ID)
	a.writeJSON(w, r, http.StatusCreated, userObject(u).with(member{"@odata.context", a.contextURL("users", nil, true)}))
	return nil
}
