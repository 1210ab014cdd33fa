package graph

import (
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// --- audit log ---

// auditObject is e in the shape of Graph's directoryAudit.
func auditObject(e storage.AuditEvent) object {
	var initiatedBy object
	switch {
	case storage.IsID(e.Actor):
		initiatedBy = object{{"user", object{{"id", e.Actor}}}, {"app", nil}}
	case e.Actor == "" || e.Actor == "anonymous":
		initiatedBy = object{{"user", nil}, {"app", nil}}
	default:
		initiatedBy = object{{"user", nil}, {"app", object{{"appId", e.Actor}}}}
	}
	targets := []object{}
	if e.Target != "" {
		targets = append(targets, object{{"id", e.Target}, {"displayName", e.Target}})
	}
	details := []object{}
	for _, k := range slices.Sorted(maps.Keys(e.Properties)) {
		details = append(details, object{{"key", k}, {"value", e.Properties[k]}})
	}
	return object{
		{"id", e.ID},
		{"category", e.Category},
		{"correlationId", nullable(e.RequestID)},
		{"result", e.Result},
		{"resultReason", e.Reason},
		{"activityDisplayName", e.Activity},
		{"activityDateTime", e.Time.UTC().Format(time.RFC3339Nano)},
		{"loggedByService", "Foyer"},
		{"initiatedBy", initiatedBy},
		{"targetResources", targets},
		{"additionalDetails", details},
	}
}

var auditProperties = auditObject(storage.AuditEvent{}).names()

// auditID is the form of the store's event IDs (Redis stream entry IDs);
// $skiptoken must have it.
var auditID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// listAudits serves GET /auditLogs/directoryAudits: newest first, in pages
// of $top (default 100, at most 1000); @odata.nextLink carries the last
// event's ID as $skiptoken.
func (a *API) listAudits(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needAdmin(scopeAuditLogRead, scopePolicyRead); err != nil {
		return err
	}
	opts, err := queryOptions(r, "$top", "$skiptoken", "$select")
	if err != nil {
		return err
	}
	v, ok := opts["$top"]
	top, err := parseTop(v, ok, 100, 1000)
	if err != nil {
		return err
	}
	v, ok = opts["$select"]
	sel, err := parseSelect(v, ok, "directoryAudit", auditProperties)
	if err != nil {
		return err
	}
	before, ok := opts["$skiptoken"]
	if ok && !auditID.MatchString(before) {
		return badRequest("The $skiptoken is not valid.")
	}
	events, err := a.cfg.Store.ListAudit(r.Context(), c.tenant.ID, top+1, before)
	if err != nil {
		return err
	}
	next := ""
	if len(events) > top {
		events = events[:top]
		next = a.nextLink("auditLogs/directoryAudits", top, events[top-1].ID, sel)
	}
	items := make([]object, len(events))
	for i, e := range events {
		items[i] = auditObject(e).pick(sel)
	}
	a.writeJSON(w, r, http.StatusOK, a.collection("auditLogs/directoryAudits", sel, items, next))
	return nil
}

// --- consents ---

// categoryApplications is Graph's audit category of consent changes.
const categoryApplications = "ApplicationManagement"

func (a *API) consentObject(c storage.Consent) object {
	return object{
		{"id", c.ID},
		{"clientId", c.ClientID},
		{"consentType", "Principal"},
		{"principalId", c.UserID},
		{"resourceId", a.cfg.URLs.GraphResource()},
		{"scope", strings.Join(c.Scopes, " ")},
	}
}

var consentProperties = (&API{}).consentObject(storage.Consent{}).names()

// listConsents serves GET /me/oauth2PermissionGrants: the apps the caller
// consented to, with the scopes.
func (a *API) listConsents(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.need(scopeUserRead, scopeUserReadWrite); err != nil {
		return err
	}
	opts, err := queryOptions(r, "$select")
	if err != nil {
		return err
	}
	v, ok := opts["$select"]
	sel, err := parseSelect(v, ok, "oAuth2PermissionGrant", consentProperties)
	if err != nil {
		return err
	}
	cs, err := a.cfg.Store.ListConsents(r.Context(), c.tenant.ID, c.user.ID)
	if err != nil {
		return err
	}
	items := make([]object, len(cs))
	for i, x := range cs {
		items[i] = a.consentObject(x).pick(sel)
	}
	a.writeJSON(w, r, http.StatusOK, a.collection("oauth2PermissionGrants", sel, items, ""))
	return nil
}

// ownConsent returns the caller's consent with the request's {id}, or 404:
// a user reads and revokes only their own consents, and the ID of anyone
// else's gets the answer of an ID that does not exist (the caller's own
// list is all that is read).
func (a *API) ownConsent(r *http.Request, c *caller) (storage.Consent, error) {
	id := r.PathValue("id")
	cs, err := a.cfg.Store.ListConsents(r.Context(), c.tenant.ID, c.user.ID)
	if err != nil {
		return storage.Consent{}, err
	}
	i := slices.IndexFunc(cs, func(x storage.Consent) bool { return x.ID == id })
	if i < 0 {
		return storage.Consent{}, notFound()
	}
	return cs[i], nil
}

// getConsent serves GET /me/oauth2PermissionGrants/{id} and GET
// /oauth2PermissionGrants/{id} (the Graph SDKs' typed request for one
// grant): one of the caller's consents, as listConsents lists it.
func (a *API) getConsent(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.need(scopeUserRead, scopeUserReadWrite); err != nil {
		return err
	}
	opts, err := queryOptions(r, "$select")
	if err != nil {
		return err
	}
	v, ok := opts["$select"]
	sel, err := parseSelect(v, ok, "oAuth2PermissionGrant", consentProperties)
	if err != nil {
		return err
	}
	x, err := a.ownConsent(r, c)
	if err != nil {
		return err
	}
	ctx := member{"@odata.context", a.contextURL("oauth2PermissionGrants", sel, true)}
	a.writeJSON(w, r, http.StatusOK, a.consentObject(x).with(ctx).pick(sel))
	return nil
}

// revokeConsent serves DELETE /me/oauth2PermissionGrants/{id} and DELETE
// /oauth2PermissionGrants/{id} (the Graph SDKs' typed request): the
// consent is deleted and every grant of that app for the caller revoked,
// so its refresh and access tokens stop working at once. Grants are
// revoked before and after the deletion, so that a retry after a failure
// finishes the job and a grant made in between does not survive.
func (a *API) revokeConsent(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.need(scopeUserReadWrite); err != nil {
		return err
	}
	if _, err := queryOptions(r); err != nil {
		return err
	}
	ctx := r.Context()
	x, err := a.ownConsent(r, c)
	if err != nil {
		return err
	}
	id, client := x.ID, x.ClientID
	revoke := func() error {
		for _, tid := range grantTenants(c.tenant.ID) {
			if _, err := a.cfg.Store.RevokeUserGrants(ctx, tid, c.user.ID, client); err != nil {
				return err
			}
		}
		return nil
	}
	if err := revoke(); err != nil {
		return err
	}
	if _, err := a.cfg.Store.DeleteConsent(ctx, c.tenant.ID, c.user.ID, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err := revoke(); err != nil {
		return err
	}
	a.record(r, c, storage.AuditEvent{Activity: "consentRevoked", Category: categoryApplications, Target: client,
		Properties: map[string]string{"scope": strings.Join(x.Scopes, " ")}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- role assignments ---

// globalAdminRoleID is the role template ID of Global Administrator in
// Entra, used as roleDefinitionId.
const globalAdminRoleID = "62e90394-69f5-4237-9190-012177145e10"

// categoryRoles is Graph's audit category of role changes.
const categoryRoles = "RoleManagement"

var roleAssignmentBody = &schema{typeName: "microsoft.graph.unifiedRoleAssignment",
	props: map[string]property{
		"principalId":      {kind: kindString, required: true, check: guid},
		"roleDefinitionId": {kind: kindString, required: true, check: exactly(globalAdminRoleID)},
		"directoryScopeId": {kind: kindString, required: true, check: exactly("/")},
	},
	known: lowerSet("id", "appScopeId", "condition", "resourceScope"),
}

func exactly(want string) func(string) (string, string) {
	return func(s string) (string, string) {
		if s != want {
			return "", "must be " + shown(want)
		}
		return s, ""
	}
}

func guid(s string) (string, string) {
	if l := strings.ToLower(s); storage.IsID(l) {
		return l, ""
	}
	return "", "must be a user's id"
}

// assignRole serves POST /roleManagement/directory/roleAssignments for the
// one role Foyer has, Global Administrator, tenant-wide. Assigning a role
// the user holds answers as if it was assigned now. An external user can
// never hold a role (seed 003): 400.
func (a *API) assignRole(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needAdmin(scopeDirectoryAsUser); err != nil {
		return err
	}
	f, err := readInput(w, r, roleAssignmentBody)
	if err != nil {
		return err
	}
	principal := f["principalId"].str
	var added bool
	_, err = a.cfg.Store.UpdateUser(r.Context(), c.tenant.ID, principal, func(u *storage.User) error {
		if externalUser(c.tenant, *u) {
			return fault.New(fault.Invalid, "externalUserCannotHoldRole",
				"The principal is an external user of this tenant; external users cannot be assigned directory roles.")
		}
		added = !slices.Contains(u.Roles, roleGlobalAdmin)
		if added {
			u.Roles = append(u.Roles, roleGlobalAdmin)
		}
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return fault.New(fault.NotFound, codeNotFound, "Property 'principalId' names no user of this tenant.")
	}
	if err != nil {
		return err
	}
	if added {
		a.record(r, c, storage.AuditEvent{Activity: "roleAssigned", Category: categoryRoles, Target: principal,
			Properties: map[string]string{"role": roleGlobalAdmin}})
	}
	id := globalAdminRoleID + "_" + principal
	w.Header().Set("Location", a.cfg.URLs.GraphResource()+"/roleManagement/directory/roleAssignments/"+id)
	a.writeJSON(w, r, http.StatusCreated, object{
		{"@odata.context", a.contextURL("roleManagement/directory/roleAssignments", nil, true)},
		{"id", id},
		{"principalId", principal},
		{"roleDefinitionId", globalAdminRoleID},
		{"directoryScopeId", "/"},
	})
	return nil
}
