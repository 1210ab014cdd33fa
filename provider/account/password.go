package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/password"
	"github.com/foyer-id/foyer/storage"
)

// PasswordStore is what a password change reads and writes: sign-in's
// reads and counters, the new hash, and what it revokes.
type PasswordStore interface {
	Store
	// SetPasswordHash returns storage.ErrNotFound if the user is gone.
	SetPasswordHash(ctx context.Context, tenantID, userID, hash string) error
	UserGrants(ctx context.Context, tenantID, userID string) ([]storage.Grant, error)
	RevokeGrant(ctx context.Context, tenantID, grantID string) error
	DeleteUserSessions(ctx context.Context, tenantID, userID string) error
}

// PasswordHasher verifies the current password and hashes the new one
// (provider/password).
type PasswordHasher interface {
	Hasher
	Hash(ctx context.Context, pw string) (string, error)
}

// PasswordsConfig configures Passwords. The lockout settings have the
// meaning and defaults of Config's: a password change and a sign-in share
// the same counters.
type PasswordsConfig struct {
	Store              PasswordStore
	Hasher             PasswordHasher
	Window             time.Duration
	MaxAccountFailures int64
	MaxIPFailures      int64
	MaxLockout         time.Duration
	FirstLock          time.Duration
	// Audit records locks and their end (none when nil).
	Audit *audit.Recorder
}

// Passwords changes the passwords of signed-in users.
type Passwords struct {
	store  PasswordStore
	hasher PasswordHasher
	// signin holds the lockout logic and settings shared with sign-in.
	signin *Service
}

// NewPasswords returns Passwords for cfg.
func NewPasswords(cfg PasswordsConfig) *Passwords {
	return &Passwords{
		store:  cfg.Store,
		hasher: cfg.Hasher,
		signin: New(Config{
			Store: cfg.Store, Hasher: cfg.Hasher, Window: cfg.Window,
			MaxAccountFailures: cfg.MaxAccountFailures, MaxIPFailures: cfg.MaxIPFailures, MaxLockout: cfg.MaxLockout,
			FirstLock: cfg.FirstLock, Audit: cfg.Audit,
		}),
	}
}

// PasswordChange is one request to change a password.
type PasswordChange struct {
	// Tenant is the user's tenant; its PasswordMinLength applies.
	Tenant storage.Tenant
	// User is the signed-in user changing their own password.
	User storage.User
	// Current and New are the passwords as typed.
	Current, New string
	// IP is the client's address, counted like a sign-in's.
	IP string
	// KeepGrant is the grant of the token that asked for the change; it
	// survives, every other grant of the user is revoked.
	KeepGrant string
}

// ErrWrongPassword is wrapped by the answer to a wrong current password.
var ErrWrongPassword = errors.New("wrong current password")

// Change checks c.Current through the sign-in lockout counters (a wrong one
// counts as a failed sign-in of the user's address and of c.IP), then
// c.New against the tenant's password policy, stores the new hash, and
// then revokes every grant of the user but c.KeepGrant and deletes all the
// user's browser sessions, in the tenant and on the common issuer.
//
// It returns a fault: TooMany (tooManyAttempts, with RetryAfter) while the
// address or IP is locked, Invalid with code invalidPassword for a wrong
// current password (or a user without a password), Invalid with the
// policy's reason code (passwordTooShort, passwordTooLong,
// passwordTooCommon, passwordContainsEmail, or passwordUnchanged when New
// is Current); or a storage error. The new hash is stored before the
// revocation so that nothing can sign in with the old password once it
// ran; if the revocation fails the error is returned and the new password
// stands.
func (p *Passwords) Change(ctx context.Context, c PasswordChange) error {
	tid := c.Tenant.ID
	limits := p.signin.limits(lockoutAddress(c.User), c.IP)
	held, err := p.signin.admit(ctx, tid, limits)
	if err != nil {
		return err
	}
	ok, err := p.verify(ctx, tid, c.User.ID, c.Current)
	if err != nil {
		return err
	}
	if !ok {
		if err := p.signin.failed(ctx, tid, held); err != nil {
			return err
		}
		return fault.Wrap(ErrWrongPassword, fault.Invalid, "invalidPassword", "The current password is incorrect.")
	}
	if err := p.signin.succeeded(ctx, tid, limits, held); err != nil {
		return err
	}
	if err := CheckNewPassword(c.Tenant, c.New, c.User.Mail); err != nil {
		return err
	}
	if c.New == c.Current {
		return fault.New(fault.Invalid, "passwordUnchanged", "The new password must differ from the current one.")
	}
	hash, err := p.hasher.Hash(ctx, c.New)
	if err != nil {
		return err
	}
	if err := p.store.SetPasswordHash(ctx, tid, c.User.ID, hash); err != nil {
		return err
	}
	// The user's grants and sessions live in the tenant, and in the
	// common issuer's tenant for sign-ins through it.
	for _, t := range []string{tid, storage.CommonTenantID} {
		grants, err := p.store.UserGrants(ctx, t, c.User.ID)
		if err != nil {
			return fmt.Errorf("account: password changed, revoking grants: %w", err)
		}
		for _, g := range grants {
			if g.ID == c.KeepGrant {
				continue
			}
			if err := p.store.RevokeGrant(ctx, t, g.ID); err != nil {
				return fmt.Errorf("account: password changed, revoking grants: %w", err)
			}
		}
		if err := p.store.DeleteUserSessions(ctx, t, c.User.ID); err != nil {
			return fmt.Errorf("account: password changed, deleting sessions: %w", err)
		}
	}
	return nil
}

// verify checks pw against the user's hash, spending a dummy verification
// when the user has no password.
func (p *Passwords) verify(ctx context.Context, tenantID, userID, pw string) (bool, error) {
	hash, err := p.store.PasswordHash(ctx, tenantID, userID)
	if errors.Is(err, storage.ErrNotFound) {
		p.hasher.VerifyDummy(ctx, pw)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return p.hasher.Verify(ctx, hash, pw)
}

// lockoutAddress is the address sign-in counts the user's failures under:
// the normalised mail, else the UPN (sign-in accepts either), else the ID.
func lockoutAddress(u storage.User) string {
	for _, a := range []string{u.Mail, u.UserPrincipalName} {
		if n, err := NormalizeEmail(a); err == nil {
			return n
		}
	}
	return u.ID
}

// CheckNewPassword checks pw as a new password of the account with the
// given mail against the tenant's password policy. It returns a fault of
// kind Invalid whose code is the policy's reason (passwordTooShort,
// passwordTooLong, passwordTooCommon, passwordContainsEmail).
func CheckNewPassword(t storage.Tenant, pw, mail string) error {
	err := password.Policy{MinLength: t.PasswordMinLength}.Check(pw, mail)
	var pe *password.PolicyError
	if !errors.As(err, &pe) {
		return err
	}
	msg := "Choose another password."
	switch pe.Reason {
	case password.ReasonTooShort:
		msg = fmt.Sprintf("The password must have at least %d characters.", pe.MinLength)
	case password.ReasonTooLong:
		msg = fmt.Sprintf("The password must have at most %d characters.", pe.MaxLength)
	case password.ReasonCommon:
		msg = "This password is too common. Choose another one."
	case password.ReasonContainsEmail:
		msg = "The password may not contain the email address."
	}
	return fault.Wrap(err, fault.Invalid, string(pe.Reason), msg)
}
