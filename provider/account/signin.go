package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// Store is what sign-in reads and counts.
type Store interface {
	UserIDByMail(ctx context.Context, tenantID, mail string) (string, error)
	UserIDByUPN(ctx context.Context, tenantID, upn string) (string, error)
	GetUser(ctx context.Context, tenantID, userID string) (storage.User, error)
	PasswordHash(ctx context.Context, tenantID, userID string) (string, error)
	storage.Counters
}

// Hasher verifies passwords (provider/password).
type Hasher interface {
	Verify(ctx context.Context, encoded, pw string) (bool, error)
	VerifyDummy(ctx context.Context, pw string)
}

// Config configures a Service.
type Config struct {
	Store  Store
	Hasher Hasher
	// Window over which failures are counted (default 15 min).
	Window time.Duration
	// MaxAccountFailures before an address is locked (default 5).
	MaxAccountFailures int64
	// MaxIPFailures before an IP is locked (default 50).
	MaxIPFailures int64
	// MaxLockout caps the growing lock (default 15 min).
	MaxLockout time.Duration
}

// Service performs account operations.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Window == 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.MaxAccountFailures == 0 {
		cfg.MaxAccountFailures = 5
	}
	if cfg.MaxIPFailures == 0 {
		cfg.MaxIPFailures = 50
	}
	if cfg.MaxLockout == 0 {
		cfg.MaxLockout = 15 * time.Minute
	}
	return &Service{cfg: cfg}
}

// ErrInvalidCredentials is wrapped by the one answer to a wrong email or
// password.
var ErrInvalidCredentials = errors.New("invalid credentials")

func invalidCredentials() error {
	return fault.Wrap(ErrInvalidCredentials, fault.Unauthenticated, "invalidCredentials",
		"Your email or password is incorrect.")
}

func locked(d time.Duration) error {
	e := fault.New(fault.TooMany, "tooManyAttempts", "Too many sign-in attempts. Wait a moment and try again.")
	e.RetryAfter = d
	return e
}

func counterKey(kind, v string) string {
	h := sha256.Sum256([]byte(v))
	return "signin:" + kind + ":" + hex.EncodeToString(h[:12])
}

// SignIn checks email and password in the tenant and returns the user. It
// returns a fault: Unauthenticated (invalidCredentials) for a malformed
// address and for any wrong email, password or disabled account, TooMany
// with RetryAfter while the address or IP is locked; or a storage error.
func (s *Service) SignIn(ctx context.Context, tenantID, email, password, ip string) (storage.User, error) {
	mail, err := NormalizeEmail(email)
	if err != nil {
		return storage.User{}, invalidCredentials()
	}
	limits := s.limits(mail, ip)
	held, err := s.admit(ctx, tenantID, limits)
	if err != nil {
		return storage.User{}, err
	}
	u, ok, err := s.check(ctx, tenantID, mail, password)
	if err != nil {
		return storage.User{}, err
	}
	if !ok {
		return storage.User{}, invalidCredentials()
	}
	if err := s.succeeded(ctx, tenantID, limits, held); err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// limit is a failure counter and the count at which it locks.
type limit struct {
	key string
	max int64
}

// limits returns the counters of an attempt on address from ip: the
// address's first.
func (s *Service) limits(address, ip string) []limit {
	return []limit{
		{counterKey("acct", address), s.cfg.MaxAccountFailures},
		{counterKey("ip", ip), s.cfg.MaxIPFailures},
	}
}

// admit lets an attempt through to the password check, or returns the
// TooMany fault. The attempt is counted before the check, so parallel
// guesses cannot slip past: from the max-th attempt in the window on, an
// attempt is admitted only if it takes the lock itself (so one at a time),
// and the lock stays unless succeeded releases it. admit returns the locks
// the attempt holds.
func (s *Service) admit(ctx context.Context, tenantID string, limits []limit) ([]string, error) {
	for _, l := range limits {
		n, err := s.cfg.Store.Count(ctx, tenantID, l.key+":lock")
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, s.lockedBy(ctx, tenantID, l)
		}
	}
	var held []string
	for _, l := range limits {
		n, err := s.cfg.Store.Hit(ctx, tenantID, l.key, s.cfg.Window)
		if err != nil {
			return nil, err
		}
		if n < l.max {
			continue
		}
		taken, err := s.cfg.Store.Hit(ctx, tenantID, l.key+":lock", s.lockFor(n, l.max))
		if err != nil {
			return nil, err
		}
		if taken > 1 {
			return nil, s.lockedBy(ctx, tenantID, l)
		}
		held = append(held, l.key+":lock")
	}
	return held, nil
}

// succeeded releases the locks an admitted attempt holds, forgets the
// address's failures, and takes back the attempt from the IP's count (an
// office behind one address signs in many people; only failures count).
func (s *Service) succeeded(ctx context.Context, tenantID string, limits []limit, held []string) error {
	for _, k := range append(held, limits[0].key) {
		if err := s.cfg.Store.ResetCounter(ctx, tenantID, k); err != nil {
			return err
		}
	}
	for _, l := range limits[1:] {
		if err := s.cfg.Store.Unhit(ctx, tenantID, l.key); err != nil {
			return err
		}
	}
	return nil
}

// lockFor is the lock set by the n-th failure against max: 1 s, 2 s,
// 4 s, ... up to MaxLockout.
func (s *Service) lockFor(n, max int64) time.Duration {
	if shift := n - max; shift >= 0 && shift < 20 {
		return min(time.Second<<shift, s.cfg.MaxLockout)
	}
	return s.cfg.MaxLockout
}

// lockedBy answers an attempt refused by l's lock. RetryAfter is the
// length of the lock the latest counted failure set, at least what
// remains of it, so a client that waits that long is not refused again by
// the same lock.
func (s *Service) lockedBy(ctx context.Context, tenantID string, l limit) error {
	n, err := s.cfg.Store.Count(ctx, tenantID, l.key)
	if err != nil {
		return err
	}
	return locked(s.lockFor(n, l.max))
}

// check verifies the password, burning a dummy verification when the user
// does not exist or has no password so both paths cost the same.
func (s *Service) check(ctx context.Context, tenantID, mail, password string) (storage.User, bool, error) {
	id, err := s.cfg.Store.UserIDByMail(ctx, tenantID, mail)
	if errors.Is(err, storage.ErrNotFound) {
		id, err = s.cfg.Store.UserIDByUPN(ctx, tenantID, mail)
	}
	var hash string
	if err == nil {
		hash, err = s.cfg.Store.PasswordHash(ctx, tenantID, id)
	}
	if errors.Is(err, storage.ErrNotFound) {
		s.cfg.Hasher.VerifyDummy(ctx, password)
		return storage.User{}, false, nil
	}
	if err != nil {
		return storage.User{}, false, err
	}
	ok, err := s.cfg.Hasher.Verify(ctx, hash, password)
	if err != nil || !ok {
		return storage.User{}, false, err
	}
	u, err := s.cfg.Store.GetUser(ctx, tenantID, id)
	if err != nil {
		return storage.User{}, false, err
	}
	return u, u.AccountEnabled, nil
}
