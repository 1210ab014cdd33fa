package graph

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// policyObject is the tenant's policy in Graph's authorizationPolicy shape.
func policyObject(p storage.AuthorizationPolicy) object {
	d := p.DefaultUserRolePermissions
	return object{
		{"id", "authorizationPolicy"},
		{"displayName", "Authorization Policy"},
		{"description", "Used to manage authorization related settings across the company."},
		{"allowEmailVerifiedUsersToJoinOrganization", p.AllowEmailVerifiedUsersToJoinOrganization},
		{"allowedToSignUpEmailBasedSubscriptions", p.AllowedToSignUpEmailBasedSubscriptions},
		{"allowedToUseSSPR", p.AllowedToUseSSPR},
		{"allowInvitesFrom", p.AllowInvitesFrom},
		{"defaultUserRolePermissions", object{
			{"allowedToCreateApps", d.AllowedToCreateApps},
			{"allowedToCreateTenants", d.AllowedToCreateTenants},
			{"allowedToReadOtherUsers", d.AllowedToReadOtherUsers},
			{"allowedToReadBitlockerKeysForOwnedDevice", d.AllowedToReadBitlockerKeysForOwnedDevice},
		}},
	}
}

var policyProperties = policyObject(storage.AuthorizationPolicy{}).names()

// allowInvitesFrom are the values of allowInvitesFrom.
var allowInvitesFrom = []string{"none", "adminsAndGuestInviters", "adminsGuestInvitersAndAllMembers", "everyone"}

// policyBody is PATCH /policies/authorizationPolicy: any subset of the
// policy, defaultUserRolePermissions itself partial.
var policyBody = &schema{typeName: "microsoft.graph.authorizationPolicy",
	props: map[string]property{
		"allowEmailVerifiedUsersToJoinOrganization": {kind: kindBool},
		"allowedToSignUpEmailBasedSubscriptions":    {kind: kindBool},
		"allowedToUseSSPR":                          {kind: kindBool},
		"allowInvitesFrom": {kind: kindString, check: func(s string) (string, string) {
			if !slices.Contains(allowInvitesFrom, s) {
				return "", "must be one of none, adminsAndGuestInviters, adminsGuestInvitersAndAllMembers, everyone"
			}
			return s, ""
		}},
		"defaultUserRolePermissions": {kind: kindObject, object: &schema{typeName: "microsoft.graph.defaultUserRolePermissions",
			props: map[string]property{
				"allowedToCreateApps":                      {kind: kindBool},
				"allowedToCreateTenants":                   {kind: kindBool},
				"allowedToReadOtherUsers":                  {kind: kindBool},
				"allowedToReadBitlockerKeysForOwnedDevice": {kind: kindBool},
			},
			known: lowerSet("permissionGrantPoliciesAssigned", "allowedToCreateSecurityGroups"),
		}},
	},
	known: lowerSet("id", "displayName", "description", "blockMsolPowerShell", "guestUserRoleId",
		"allowUserConsentForRiskyApps", "permissionGrantPolicyIdsAssignedToDefaultUserRole", "enabledPreviewFeatures"),
}

// policyPatch is a validated partial policy.
type policyPatch struct{ f fields }

// apply sets the patch on p and returns what changed, by property path,
// as "old→new".
func (pp policyPatch) apply(p *storage.AuthorizationPolicy) map[string]string {
	changed := map[string]string{}
	flag := func(name string, f fields, dst *bool) {
		if v, ok := f[name]; ok && v.b != *dst {
			changed[name] = strconv.FormatBool(*dst) + "→" + strconv.FormatBool(v.b)
			*dst = v.b
		}
	}
	flag("allowEmailVerifiedUsersToJoinOrganization", pp.f, &p.AllowEmailVerifiedUsersToJoinOrganization)
	flag("allowedToSignUpEmailBasedSubscriptions", pp.f, &p.AllowedToSignUpEmailBasedSubscriptions)
	flag("allowedToUseSSPR", pp.f, &p.AllowedToUseSSPR)
	if v, ok := pp.f["allowInvitesFrom"]; ok && v.str != p.AllowInvitesFrom {
		changed["allowInvitesFrom"] = p.AllowInvitesFrom + "→" + v.str
		p.AllowInvitesFrom = v.str
	}
	if d, ok := pp.f["defaultUserRolePermissions"]; ok {
		dp := &p.DefaultUserRolePermissions
		sub := map[string]*bool{
			"allowedToCreateApps":                      &dp.AllowedToCreateApps,
			"allowedToCreateTenants":                   &dp.AllowedToCreateTenants,
			"allowedToReadOtherUsers":                  &dp.AllowedToReadOtherUsers,
			"allowedToReadBitlockerKeysForOwnedDevice": &dp.AllowedToReadBitlockerKeysForOwnedDevice,
		}
		for name, dst := range sub {
			if v, ok := d.obj[name]; ok && v.b != *dst {
				changed["defaultUserRolePermissions."+name] = strconv.FormatBool(*dst) + "→" + strconv.FormatBool(v.b)
				*dst = v.b
			}
		}
	}
	return changed
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needAdmin(scopePolicyRead, scopePolicyWriteAuthz); err != nil {
		return err
	}
	opts, err := queryOptions(r, "$select")
	if err != nil {
		return err
	}
	v, ok := opts["$select"]
	sel, err := parseSelect(v, ok, "authorizationPolicy", policyProperties)
	if err != nil {
		return err
	}
	// Read from the store, not the resolver's cache, so a change reads back
	// at once.
	t, err := a.cfg.Store.GetTenant(r.Context(), c.tenant.ID)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, policyObject(t.Policy).pick(sel).
		with(member{"@odata.context", a.contextURL("policies/authorizationPolicy", sel, true)}))
	return nil
}

// patchPolicy updates the tenant's policy in one compare-and-swap and
// records the change, field by field, in the audit log. In external
// tenants allowedToReadOtherUsers stays false.
func (a *API) patchPolicy(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needAdmin(scopePolicyWriteAuthz); err != nil {
		return err
	}
	if _, err := queryOptions(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	f, err := decodeBody(body, policyBody)
	if err != nil {
		return err
	}
	if c.tenant.Kind == storage.External && f["defaultUserRolePermissions"].obj["allowedToReadOtherUsers"].b {
		return fault.New(fault.Invalid, "notAllowedInExternalTenant",
			"Property 'defaultUserRolePermissions.allowedToReadOtherUsers' cannot be true in an external tenant: customers never read other users.")
	}
	var changed map[string]string
	if len(f) > 0 {
		_, err = a.cfg.Store.UpdateTenant(r.Context(), c.tenant.ID, func(t *storage.Tenant) error {
			changed = policyPatch{f}.apply(&t.Policy)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(changed) > 0 {
		a.record(r, c, storage.AuditEvent{Activity: "policyUpdated", Category: audit.CategoryPolicy,
			Target: "authorizationPolicy", Properties: changed})
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
