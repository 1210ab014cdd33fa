package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/foyer-id/foyer/storage"
)

// CreateTenant stores a new tenant. It returns storage.ErrExists if the ID
// or the name is taken. The ID may not contain '{' or '}', which would break
// the tenant's hash tag.
func (s *Store) CreateTenant(ctx context.Context, t storage.Tenant) error {
	if t.ID == "" || strings.ContainsAny(t.ID, "{}") {
		return fmt.Errorf("redisstore: invalid tenant ID %q", t.ID)
	}
	raw, err := encode(t)
	if err != nil {
		return err
	}
	return s.claim(ctx, tenantNames, t.Name, t.ID, func() error {
		ok, err := s.createNX(ctx, tkey(t.ID, "tenant"), raw, 0, "", "")
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: tenant %s", storage.ErrExists, t.ID)
		}
		return nil
	})
}

// GetTenant returns storage.ErrNotFound if no tenant has the ID.
func (s *Store) GetTenant(ctx context.Context, tenantID string) (storage.Tenant, error) {
	return get[storage.Tenant](ctx, s, tkey(tenantID, "tenant"))
}

// TenantIDByName returns storage.ErrNotFound if no tenant has the name.
func (s *Store) TenantIDByName(ctx context.Context, name string) (string, error) {
	id, err := s.rdb.HGet(ctx, tenantNames, name).Result()
	return id, fail(ctx, err)
}

// UpdateTenant applies fn to the tenant with compare-and-swap. An fn that
// changes ID or Name fails the update.
func (s *Store) UpdateTenant(ctx context.Context, tenantID string, fn func(*storage.Tenant) error) (storage.Tenant, error) {
	return cas[storage.Tenant]{key: tkey(tenantID, "tenant")}.apply(ctx, s, func(t *storage.Tenant) error {
		id, name := t.ID, t.Name
		if err := fn(t); err != nil {
			return err
		}
		return unchanged(t.ID == id && t.Name == name, "tenant ID or name")
	})
}

// ListTenants returns every tenant, in no particular order.
func (s *Store) ListTenants(ctx context.Context) ([]storage.Tenant, error) {
	ids, err := s.rdb.HVals(ctx, tenantNames).Result()
	if err != nil {
		return nil, fail(ctx, err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = tkey(id, "tenant")
	}
	// A name claimed by a create still running, or that failed without
	// releasing it, has no tenant: getAll skips it.
	return getAll[storage.Tenant](ctx, s, keys)
}

// AddDomain marks domain verified in the tenant; it is idempotent for the
// same tenant and returns storage.ErrExists if another tenant verified it.
// Domains are compared in lower case.
func (s *Store) AddDomain(ctx context.Context, tenantID, domain string) error {
	domain = strings.ToLower(domain)
	add := func() error { return fail(ctx, s.rdb.SAdd(ctx, tkey(tenantID, "domains"), domain).Err()) }
	err := s.claim(ctx, domainTenants, domain, tenantID, add)
	if errors.Is(err, storage.ErrExists) {
		if owner, err2 := s.TenantIDByDomain(ctx, domain); err2 == nil && owner == tenantID {
			return add()
		}
	}
	return err
}

// TenantIDByDomain returns storage.ErrNotFound if no tenant verified domain.
func (s *Store) TenantIDByDomain(ctx context.Context, domain string) (string, error) {
	id, err := s.rdb.HGet(ctx, domainTenants, strings.ToLower(domain)).Result()
	return id, fail(ctx, err)
}

// Domains lists the tenant's verified domains, sorted.
func (s *Store) Domains(ctx context.Context, tenantID string) ([]string, error) {
	ds, err := s.rdb.SMembers(ctx, tkey(tenantID, "domains")).Result()
	if err != nil {
		return nil, fail(ctx, err)
	}
	slices.Sort(ds)
	return ds, nil
}

// CreateApp stores a new app in the tenant. It returns storage.ErrExists if
// the client ID is taken in any tenant.
func (s *Store) CreateApp(ctx context.Context, tenantID string, a storage.App) error {
	a.TenantID = tenantID
	raw, err := encode(a)
	if err != nil {
		return err
	}
	return s.claim(ctx, clientTenants, a.ClientID, tenantID, func() error {
		created, err := s.createNX(ctx, tkey(tenantID, "app", a.ClientID), raw, 0, tkey(tenantID, "apps"), a.ClientID)
		if err != nil {
			return err
		}
		if !created {
			return fmt.Errorf("%w: app %s", storage.ErrExists, a.ClientID)
		}
		return nil
	})
}

// GetApp returns storage.ErrNotFound if the tenant has no app with
// clientID.
func (s *Store) GetApp(ctx context.Context, tenantID, clientID string) (storage.App, error) {
	return get[storage.App](ctx, s, tkey(tenantID, "app", clientID))
}

// AppTenant returns the ID of the tenant the client is registered in, or
// storage.ErrNotFound.
func (s *Store) AppTenant(ctx context.Context, clientID string) (string, error) {
	id, err := s.rdb.HGet(ctx, clientTenants, clientID).Result()
	return id, fail(ctx, err)
}

// UpdateApp applies fn to the app with compare-and-swap. An fn that changes
// ClientID or TenantID fails the update.
func (s *Store) UpdateApp(ctx context.Context, tenantID, clientID string, fn func(*storage.App) error) (storage.App, error) {
	return cas[storage.App]{key: tkey(tenantID, "app", clientID)}.apply(ctx, s, func(a *storage.App) error {
		id, tid := a.ClientID, a.TenantID
		if err := fn(a); err != nil {
			return err
		}
		return unchanged(a.ClientID == id && a.TenantID == tid, "client ID or tenant ID")
	})
}

// ListApps lists the tenant's apps, sorted by client ID.
func (s *Store) ListApps(ctx context.Context, tenantID string) ([]storage.App, error) {
	return listSorted[storage.App](ctx, s, tenantID, "apps", "app")
}

// listSorted returns the values named by the members of the tenant's set,
// sorted by member.
func listSorted[T any](ctx context.Context, s *Store, tenantID, set, prefix string) ([]T, error) {
	ids, err := s.rdb.SMembers(ctx, tkey(tenantID, set)).Result()
	if err != nil {
		return nil, fail(ctx, err)
	}
	slices.Sort(ids)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = tkey(tenantID, prefix, id)
	}
	return getAll[T](ctx, s, keys)
}

// userIndexes returns the unique index keys a user holds: its mail, when
// set, and its lower-cased UPN.
func userIndexes(tenantID string) func(*storage.User) []string {
	return func(u *storage.User) []string {
		var keys []string
		if u.Mail != "" {
			keys = append(keys, tkey(tenantID, "mail", u.Mail))
		}
		if u.UserPrincipalName != "" {
			keys = append(keys, tkey(tenantID, "upn", strings.ToLower(u.UserPrincipalName)))
		}
		return keys
	}
}

// CreateUser stores u, its password hash ("" for none) and its mail and UPN
// indexes atomically. It returns storage.ErrExists if the ID, the mail or
// the UPN is taken in the tenant.
func (s *Store) CreateUser(ctx context.Context, tenantID string, u storage.User, passwordHash string) error {
	raw, err := encode(u)
	if err != nil {
		return err
	}
	keys := append([]string{tkey(tenantID, "user", u.ID), tkey(tenantID, "password", u.ID), tkey(tenantID, "users")},
		userIndexes(tenantID)(&u)...)
	n, err := s.evalOp(ctx, createUser, opID(ctx), keys, raw, passwordHash, u.ID).Int64()
	switch {
	case err != nil:
		return fail(ctx, err)
	case n == 0:
		return fmt.Errorf("%w: user %s", storage.ErrExists, u.ID)
	case n < 0:
		return fmt.Errorf("%w: %s", storage.ErrExists, keyKind(keys[-n-1]))
	}
	return nil
}

// GetUser returns storage.ErrNotFound if the tenant has no such user.
func (s *Store) GetUser(ctx context.Context, tenantID, userID string) (storage.User, error) {
	return get[storage.User](ctx, s, tkey(tenantID, "user", userID))
}

// UserIDByMail looks a user up by normalised mail, or returns
// storage.ErrNotFound.
func (s *Store) UserIDByMail(ctx context.Context, tenantID, mail string) (string, error) {
	id, err := s.rdb.Get(ctx, tkey(tenantID, "mail", mail)).Result()
	return id, fail(ctx, err)
}

// UserIDByUPN looks a user up by UPN, ignoring case, or returns
// storage.ErrNotFound.
func (s *Store) UserIDByUPN(ctx context.Context, tenantID, upn string) (string, error) {
	id, err := s.rdb.Get(ctx, tkey(tenantID, "upn", strings.ToLower(upn))).Result()
	return id, fail(ctx, err)
}

// UpdateUser applies fn to the user with compare-and-swap, moving the mail
// and UPN indexes in the same step; it returns storage.ErrExists if the new
// mail or UPN is taken. An fn that changes ID fails the update.
func (s *Store) UpdateUser(ctx context.Context, tenantID, userID string, fn func(*storage.User) error) (storage.User, error) {
	c := cas[storage.User]{key: tkey(tenantID, "user", userID), owner: userID, indexes: userIndexes(tenantID)}
	return c.apply(ctx, s, func(u *storage.User) error {
		if err := fn(u); err != nil {
			return err
		}
		return unchanged(u.ID == userID, "user ID")
	})
}

// ListUsers lists the tenant's users, sorted by ID.
func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]storage.User, error) {
	return listSorted[storage.User](ctx, s, tenantID, "users", "user")
}

// PasswordHash returns the user's encoded hash, or storage.ErrNotFound if
// the user does not exist or has no password.
func (s *Store) PasswordHash(ctx context.Context, tenantID, userID string) (string, error) {
	h, err := s.rdb.Get(ctx, tkey(tenantID, "password", userID)).Result()
	return h, fail(ctx, err)
}

// SetPasswordHash replaces the user's hash ("" removes it); it returns
// storage.ErrNotFound if there is no such user.
func (s *Store) SetPasswordHash(ctx context.Context, tenantID, userID, hash string) error {
	n, err := s.eval(ctx, setPassword, []string{tkey(tenantID, "user", userID), tkey(tenantID, "password", userID)}, hash)
	if err == nil && n == 0 {
		return fmt.Errorf("%w: user %s", storage.ErrNotFound, userID)
	}
	return err
}

// SigningKeys returns the tenant's keys; none is not an error.
func (s *Store) SigningKeys(ctx context.Context, tenantID string) ([]storage.SigningKey, error) {
	ks, err := get[[]storage.SigningKey](ctx, s, tkey(tenantID, "keys"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return ks, err
}

// UpdateSigningKeys applies fn to the tenant's key set with
// compare-and-swap and returns the stored set.
func (s *Store) UpdateSigningKeys(ctx context.Context, tenantID string, fn func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	c := cas[[]storage.SigningKey]{key: tkey(tenantID, "keys"), orZero: true}
	return c.apply(ctx, s, func(ks *[]storage.SigningKey) error {
		next, err := fn(*ks)
		if err != nil {
			return err
		}
		*ks = next
		return nil
	})
}
