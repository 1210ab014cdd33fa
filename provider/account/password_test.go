package account

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// hashing is the counting hasher that can also hash.
type hashing struct{ *countingHasher }

func (h hashing) Hash(ctx context.Context, pw string) (string, error) {
	return realHasher().Hash(ctx, pw)
}

func (e *env) passwords() *Passwords {
	return NewPasswords(PasswordsConfig{Store: e.store, Hasher: hashing{e.hasher}})
}

func (e *env) tenantObj() storage.Tenant { return storage.Tenant{ID: e.tenant, Kind: storage.External} }

func wantCode(t *testing.T, err error, kind fault.Kind, code string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != kind || fe.Code != code {
		t.Fatalf("error %v: want a fault of kind %v, code %s", err, kind, code)
	}
}

const newPassword = "an entirely different passphrase"

func TestChangePassword(t *testing.T) {
	e := newEnv(t, true)
	ctx := t.Context()
	p := e.passwords()
	now := time.Now()
	grant := func(tenant string) string {
		g := storage.Grant{ID: storage.NewID(), TenantID: tenant, UserID: e.alice.ID, ClientID: "app",
			Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := e.store.CreateGrant(ctx, tenant, g); err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	keep, other, viaCommon := grant(e.tenant), grant(e.tenant), grant(storage.CommonTenantID)
	for _, tid := range []string{e.tenant, storage.CommonTenantID} {
		if err := e.store.CreateSession(ctx, tid, storage.Session{Hash: storage.NewID(), TenantID: tid, UserID: e.alice.ID,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	change := func(current, next string) error {
		return p.Change(ctx, PasswordChange{Tenant: e.tenantObj(), User: e.alice, Current: current, New: next,
			IP: "192.0.2.1", KeepGrant: keep})
	}

	wantCode(t, change("wrong", newPassword), fault.Invalid, "invalidPassword")
	wantCode(t, change(rightPassword, "short"), fault.Invalid, "passwordTooShort")
	wantCode(t, change(rightPassword, "alice@contoso.example and more"), fault.Invalid, "passwordContainsEmail")
	wantCode(t, change(rightPassword, rightPassword), fault.Invalid, "passwordUnchanged")
	// Nothing was written: the old password signs in, every grant lives.
	if _, err := e.service(nil).SignIn(ctx, e.tenant, "alice@contoso.example", rightPassword, "192.0.2.2"); err != nil {
		t.Fatalf("old password after refusals: %v", err)
	}
	for _, g := range []string{keep, other} {
		if _, err := e.store.GetGrant(ctx, e.tenant, g); err != nil {
			t.Fatalf("grant %s after refusals: %v", g, err)
		}
	}

	if err := change(rightPassword, newPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetGrant(ctx, e.tenant, keep); err != nil {
		t.Fatalf("the caller's grant: %v", err)
	}
	for tid, g := range map[string]string{e.tenant: other, storage.CommonTenantID: viaCommon} {
		if _, err := e.store.GetGrant(ctx, tid, g); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("grant %s in %s survived: %v", g, tid, err)
		}
	}
	s := e.service(nil)
	u, err := s.SignIn(ctx, e.tenant, "alice@contoso.example", rightPassword, "192.0.2.3")
	wantInvalidCredentials(t, u, err)
	if _, err := s.SignIn(ctx, e.tenant, "alice@contoso.example", newPassword, "192.0.2.3"); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

// TestChangePasswordSharesTheLockout: wrong current passwords and failed
// sign-ins count against one lock.
func TestChangePasswordSharesTheLockout(t *testing.T) {
	e := newEnv(t, true)
	ctx := t.Context()
	p := e.passwords()
	s := e.service(nil)
	for range 3 {
		u, err := s.SignIn(ctx, e.tenant, "alice@contoso.example", "wrong", "192.0.2.5")
		wantInvalidCredentials(t, u, err)
	}
	for range 2 {
		err := p.Change(ctx, PasswordChange{Tenant: e.tenantObj(), User: e.alice, Current: "wrong", New: newPassword, IP: "192.0.2.6"})
		wantCode(t, err, fault.Invalid, "invalidPassword")
	}
	// Five failures: the address is locked for sign-in and change alike.
	u, err := s.SignIn(ctx, e.tenant, "alice@contoso.example", rightPassword, "192.0.2.7")
	wantLocked(t, u, err)
	v0, d0 := e.hasher.calls()
	err = p.Change(ctx, PasswordChange{Tenant: e.tenantObj(), User: e.alice, Current: rightPassword, New: newPassword, IP: "192.0.2.7"})
	wantCode(t, err, fault.TooMany, "tooManyAttempts")
	if fault.From(err).RetryAfter <= 0 {
		t.Fatal("no RetryAfter")
	}
	if v, d := e.hasher.calls(); v != v0 || d != d0 {
		t.Fatal("a locked change ran the hasher")
	}
}

func TestChangePasswordEdgeCases(t *testing.T) {
	e := newEnv(t, true)
	ctx := t.Context()
	p := e.passwords()

	t.Run("no password: a dummy verification, and refused", func(t *testing.T) {
		_, d0 := e.hasher.calls()
		err := p.Change(ctx, PasswordChange{Tenant: e.tenantObj(), User: e.carol, Current: "", New: newPassword})
		wantCode(t, err, fault.Invalid, "invalidPassword")
		if _, d := e.hasher.calls(); d != d0+1 {
			t.Fatal("no dummy verification")
		}
	})
	t.Run("UPN-only user", func(t *testing.T) {
		if err := p.Change(ctx, PasswordChange{Tenant: e.tenantObj(), User: e.dave, Current: rightPassword, New: newPassword}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the tenant's minimum length", func(t *testing.T) {
		tn := e.tenantObj()
		tn.PasswordMinLength = 40
		err := p.Change(ctx, PasswordChange{Tenant: tn, User: e.alice, Current: rightPassword, New: newPassword})
		wantCode(t, err, fault.Invalid, "passwordTooShort")
	})
	t.Run("store down", func(t *testing.T) {
		e.mr.Close()
		v0, d0 := e.hasher.calls()
		err := p.Change(ctx, PasswordChange{Tenant: e.tenantObj(), User: e.alice, Current: rightPassword, New: newPassword})
		if !errors.Is(err, storage.ErrUnavailable) || fault.From(err).Kind != fault.Unavailable {
			t.Fatalf("error %v, want unavailable", err)
		}
		if v, d := e.hasher.calls(); v != v0 || d != d0 {
			t.Fatal("the hasher ran with the store down")
		}
	})
}
