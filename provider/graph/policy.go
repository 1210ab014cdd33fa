package graph

import (
	"net/http"
	"slices"
	"strings"

	"github.com/foyer-id/foyer/provider/policy"
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
// policy that provider/policy can change. The other properties of Graph's
// authorizationPolicy, and the defaultUserRolePermissions other than
// allowedToReadOtherUsers, are read-only here.
var policyBody = &schema{typeName: "microsoft.graph.authorizationPolicy",
	props: map[string]property{
		"allowEmailVerifiedUsersToJoinOrganization": {kind: kindBool},
		"allowedToSignUpEmailBasedSubscriptions":    {kind: kindBool},
		"allowedToUseSSPR":                          {kind: kindBool},
		"allowInvitesFrom": {kind: kindString, check: func(s string) (string, string) {
			if !slices.Contains(policy.InviteValues, s) {
				return "", "must be one of " + strings.Join(policy.InviteValues, ", ")
			}
			return s, ""
		}},
		"defaultUserRolePermissions": {kind: kindObject, object: &schema{typeName: "microsoft.graph.defaultUserRolePermissions",
			props: map[string]property{
				"allowedToReadOtherUsers": {kind: kindBool},
			},
			known: lowerSet("allowedToCreateApps", "allowedToCreateTenants", "allowedToReadBitlockerKeysForOwnedDevice",
				"permissionGrantPoliciesAssigned", "allowedToCreateSecurityGroups"),
		}},
	},
	known: lowerSet("id", "displayName", "description", "blockMsolPowerShell", "guestUserRoleId",
		"allowUserConsentForRiskyApps", "permissionGrantPolicyIdsAssignedToDefaultUserRole", "enabledPreviewFeatures"),
}

// policyChange turns a decoded body into a provider/policy change.
func policyChange(f fields) policy.Change {
	var c policy.Change
	flag := func(f fields, name string) *bool {
		if v, ok := f[name]; ok {
			return &v.b
		}
		return nil
	}
	c.AllowEmailVerifiedUsersToJoinOrganization = flag(f, "allowEmailVerifiedUsersToJoinOrganization")
	c.AllowedToSignUpEmailBasedSubscriptions = flag(f, "allowedToSignUpEmailBasedSubscriptions")
	c.AllowedToUseSSPR = flag(f, "allowedToUseSSPR")
	if v, ok := f["allowInvitesFrom"]; ok {
		c.AllowInvitesFrom = &v.str
	}
	c.AllowedToReadOtherUsers = flag(f["defaultUserRolePermissions"].obj, "allowedToReadOtherUsers")
	return c
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
	p, err := a.cfg.Policies.Get(r.Context(), c.tenant.ID)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, policyObject(p).pick(sel).
		with(member{"@odata.context", a.contextURL("policies/authorizationPolicy", sel, true)}))
	return nil
}

// patchPolicy updates the tenant's policy through provider/policy, the one
// place that changes it (one validation, one compare-and-swap write, one
// audit event with every changed field, old and new). In external tenants
// allowedToReadOtherUsers stays false.
func (a *API) patchPolicy(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := c.needAdmin(scopePolicyWriteAuthz); err != nil {
		return err
	}
	f, err := readInput(w, r, policyBody)
	if err != nil {
		return err
	}
	if _, err := a.cfg.Policies.Update(r.Context(), c.tenant.ID, c.user.ID, policyChange(f)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
