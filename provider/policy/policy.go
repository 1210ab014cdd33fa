package policy

import (
	"context"
	"fmt"
	"slices"

	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// Store reads and updates tenants.
type Store interface {
	GetTenant(ctx context.Context, tenantID string) (storage.Tenant, error)
	UpdateTenant(ctx context.Context, tenantID string, fn func(*storage.Tenant) error) (storage.Tenant, error)
}

// Service reads and changes authorization policies.
type Service struct {
	store Store
	audit *audit.Recorder
}

// New returns a Service.
func New(store Store, rec *audit.Recorder) *Service { return &Service{store: store, audit: rec} }

// Get returns the tenant's policy.
func (s *Service) Get(ctx context.Context, tenantID string) (storage.AuthorizationPolicy, error) {
	t, err := s.store.GetTenant(ctx, tenantID)
	return t.Policy, err
}

// Change is a partial update: nil fields keep their value.
type Change struct {
	AllowEmailVerifiedUsersToJoinOrganization *bool
	AllowedToSignUpEmailBasedSubscriptions    *bool
	AllowedToUseSSPR                          *bool
	AllowInvitesFrom                          *string
	AllowedToReadOtherUsers                   *bool
}

// InviteValues are the values of allowInvitesFrom.
var InviteValues = []string{"none", "adminsAndGuestInviters", "adminsGuestInvitersAndAllMembers", "everyone"}

// Update applies c to the tenant's policy atomically and records who
// changed what (actor: a user ID, or "cli"). It returns the new policy. A
// value out of range, or allowedToReadOtherUsers=true in an external
// tenant, is a fault of kind Invalid and nothing is written.
func (s *Service) Update(ctx context.Context, tenantID, actor string, c Change) (storage.AuthorizationPolicy, error) {
	if c.AllowInvitesFrom != nil && !slices.Contains(InviteValues, *c.AllowInvitesFrom) {
		return storage.AuthorizationPolicy{}, fault.New(fault.Invalid, "invalidValue",
			fmt.Sprintf("allowInvitesFrom must be one of %v.", InviteValues))
	}
	changes := map[string]string{}
	t, err := s.store.UpdateTenant(ctx, tenantID, func(t *storage.Tenant) error {
		clear(changes)
		if c.AllowedToReadOtherUsers != nil && *c.AllowedToReadOtherUsers && t.Kind == storage.External {
			return fault.New(fault.Invalid, "invalidValue", "allowedToReadOtherUsers cannot be true in an external tenant.")
		}
		p := &t.Policy
		setBool(changes, "allowEmailVerifiedUsersToJoinOrganization", &p.AllowEmailVerifiedUsersToJoinOrganization, c.AllowEmailVerifiedUsersToJoinOrganization)
		setBool(changes, "allowedToSignUpEmailBasedSubscriptions", &p.AllowedToSignUpEmailBasedSubscriptions, c.AllowedToSignUpEmailBasedSubscriptions)
		setBool(changes, "allowedToUseSSPR", &p.AllowedToUseSSPR, c.AllowedToUseSSPR)
		setBool(changes, "defaultUserRolePermissions.allowedToReadOtherUsers", &p.DefaultUserRolePermissions.AllowedToReadOtherUsers, c.AllowedToReadOtherUsers)
		if c.AllowInvitesFrom != nil && *c.AllowInvitesFrom != p.AllowInvitesFrom {
			changes["allowInvitesFrom"] = p.AllowInvitesFrom + " -> " + *c.AllowInvitesFrom
			p.AllowInvitesFrom = *c.AllowInvitesFrom
		}
		return nil
	})
	if err != nil {
		return storage.AuthorizationPolicy{}, err
	}
	if len(changes) > 0 {
		s.audit.Record(ctx, tenantID, storage.AuditEvent{Category: audit.CategoryPolicy, Activity: "policyUpdated",
			Result: audit.Success, Actor: actor, Target: "authorizationPolicy", Properties: changes})
	}
	return t.Policy, nil
}

func setBool(changes map[string]string, name string, dst, v *bool) {
	if v == nil || *v == *dst {
		return
	}
	changes[name] = fmt.Sprintf("%t -> %t", *dst, *v)
	*dst = *v
}
