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
// returns a fault: Invalid for a malformed address, Unauthenticated
// (invalidCredentials) for any wrong email, password or disabled account,
// TooMany with RetryAfter while the address or IP is locked; or a storage
// error.
func (s *Service) SignIn(ctx context.Context, tenantID, email, password, ip string) (storage.User, error) {
	mail, err := NormalizeEmail(email)
	if err != nil {
		return storage.User{}, invalidCredentials()
	}
	acct, addr := counterKey("acct", mail), counterKey("ip", ip)
	for _, k := range []string{acct, addr} {
		n, err := s.cfg.Store.Count(ctx, tenantID, k+":lock")
		if err != nil {
			return storage.User{}, err
		}
		if n > 0 {
			return storage.User{}, locked(time.Second)
		}
	}
	// Counted before the check, so parallel guesses cannot slip past.
	nAcct, err := s.cfg.Store.Hit(ctx, tenantID, acct, s.cfg.Window)
	if err != nil {
		return storage.User{}, err
	}
	nIP, err := s.cfg.Store.Hit(ctx, tenantID, addr, s.cfg.Window)
	if err != nil {
		return storage.User{}, err
	}
	u, ok, err := s.check(ctx, tenantID, mail, password)
	if err != nil {
		return storage.User{}, err
	}
	if !ok {
		if err := s.lock(ctx, tenantID, acct, nAcct, s.cfg.MaxAccountFailures); err != nil {
			return storage.User{}, err
		}
		if err := s.lock(ctx, tenantID, addr, nIP, s.cfg.MaxIPFailures); err != nil {
			return storage.User{}, err
		}
		return storage.User{}, invalidCredentials()
	}
	if err := s.cfg.Store.ResetCounter(ctx, tenantID, acct); err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// lock sets a growing lock once n failures reached max.
func (s *Service) lock(ctx context.Context, tenantID, key string, n, max int64) error {
	if n < max {
		return nil
	}
	d := s.cfg.MaxLockout
	if shift := n - max; shift < 20 {
		d = min(time.Second<<shift, s.cfg.MaxLockout)
	}
	_, err := s.cfg.Store.Hit(ctx, tenantID, key+":lock", d)
	return err
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
