package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/foyer-id/foyer/provider/audit"
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
	// FirstLock is the lock the max-th failure sets; each further failure
	// doubles it (default 1 s).
	FirstLock time.Duration
	// DeviceKey is the HMAC key of device tokens (32 bytes, shared by
	// replicas). Without it no device token is issued or trusted.
	DeviceKey []byte
	// MaxDeviceFailures before a device token is no longer trusted
	// (default 5).
	MaxDeviceFailures int64
	// DeviceLifetime of a device token (default 90 days).
	DeviceLifetime time.Duration
	// Audit records locks and their end (none when nil).
	Audit *audit.Recorder
	Clock func() time.Time
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
	if cfg.FirstLock == 0 {
		cfg.FirstLock = time.Second
	}
	if cfg.MaxDeviceFailures == 0 {
		cfg.MaxDeviceFailures = 5
	}
	if cfg.DeviceLifetime == 0 {
		cfg.DeviceLifetime = 90 * 24 * time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
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

// SignIn checks email and password in the tenant and returns the user,
// for a client without a device token (see Authenticate).
func (s *Service) SignIn(ctx context.Context, tenantID, email, password, ip string) (storage.User, error) {
	r, err := s.Authenticate(ctx, Attempt{TenantID: tenantID, Email: email, Password: password, IP: ip})
	return r.User, err
}

// Attempt is one sign-in attempt.
type Attempt struct {
	TenantID        string
	Email, Password string
	// IP is the client's address.
	IP string
	// Device is the device token the browser holds under
	// DeviceSlot(TenantID, Email); "" when none.
	Device string
}

// SignedIn is the result of a successful attempt.
type SignedIn struct {
	User storage.User
	// Device is a new device token for the browser to keep under
	// DeviceSlot(TenantID, Email) until DeviceExpires ("" without a
	// DeviceKey).
	Device        string
	DeviceExpires time.Time
}

// Authenticate checks an attempt's email and password in the tenant. Its
// failures are counted before the check: per IP always, and per address
// unless the attempt carries a valid device token for the address (the
// browser signed in to it before), whose failures are counted per token
// instead, so that failures from elsewhere do not lock the owner's
// browser out. A token with MaxDeviceFailures failures is no longer
// trusted. A success returns a new device token.
//
// It returns a fault: Unauthenticated (invalidCredentials) for a malformed
// address and for any wrong email, password or disabled account, TooMany
// with RetryAfter while the address (or device token) or IP is locked; or
// a storage error.
func (s *Service) Authenticate(ctx context.Context, a Attempt) (SignedIn, error) {
	mail, err := NormalizeEmail(a.Email)
	if err != nil {
		return SignedIn{}, invalidCredentials()
	}
	dev, err := s.trustedDevice(ctx, a.TenantID, mail, a.Device)
	if err != nil {
		return SignedIn{}, err
	}
	limits := s.limits(mail, a.IP)
	if dev != "" {
		limits[0] = limit{key: counterKey("dev", dev), max: s.cfg.MaxDeviceFailures, scope: "device", target: Mask(mail)}
	}
	held, err := s.admit(ctx, a.TenantID, limits)
	if err != nil {
		return SignedIn{}, err
	}
	u, ok, err := s.check(ctx, a.TenantID, mail, a.Password)
	if err != nil {
		return SignedIn{}, err
	}
	if !ok {
		if err := s.failed(ctx, a.TenantID, held); err != nil {
			return SignedIn{}, err
		}
		return SignedIn{}, invalidCredentials()
	}
	if err := s.succeeded(ctx, a.TenantID, limits, held); err != nil {
		return SignedIn{}, err
	}
	res := SignedIn{User: u}
	res.Device, res.DeviceExpires = s.newDevice(a.TenantID, mail)
	return res, nil
}

// limit is a failure counter, the count at which it locks, and how the
// audit log names it.
type limit struct {
	key    string
	max    int64
	scope  string // "account", "ip" or "device"
	target string
	// n is the count when admit took the limit's lock (held locks only).
	n int64
}

// limits returns the counters of an attempt on address from ip: the
// address's first.
func (s *Service) limits(address, ip string) []limit {
	return []limit{
		{key: counterKey("acct", address), max: s.cfg.MaxAccountFailures, scope: "account", target: Mask(address)},
		{key: counterKey("ip", ip), max: s.cfg.MaxIPFailures, scope: "ip", target: ip},
	}
}

// admit lets an attempt through to the password check, or returns the
// TooMany fault. The attempt is counted before the check, so parallel
// guesses cannot slip past: from the max-th attempt in the window on, an
// attempt is admitted only if it takes the lock itself (so one at a time),
// and the lock stays unless succeeded releases it. admit returns the locks
// the attempt holds.
func (s *Service) admit(ctx context.Context, tenantID string, limits []limit) ([]limit, error) {
	for _, l := range limits {
		n, err := s.cfg.Store.Count(ctx, tenantID, l.key+":lock")
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, s.lockedBy(ctx, tenantID, l)
		}
	}
	var held []limit
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
		l.n = n
		held = append(held, l)
	}
	return held, nil
}

// failed records the locks a failed attempt leaves behind, and stops
// trusting a device token that reached its limit.
func (s *Service) failed(ctx context.Context, tenantID string, held []limit) error {
	for _, l := range held {
		if l.scope == "device" {
			if _, err := s.cfg.Store.Hit(ctx, tenantID, l.key+":revoked", s.cfg.DeviceLifetime); err != nil {
				return err
			}
			s.record(ctx, tenantID, "signInDeviceRevoked", audit.Failure, l, nil)
			continue
		}
		until := s.cfg.Clock().Add(s.lockFor(l.n, l.max)).UTC().Format(time.RFC3339)
		s.record(ctx, tenantID, "signInLocked", audit.Failure, l,
			map[string]string{"failures": strconv.FormatInt(l.n, 10), "lockedUntil": until})
	}
	return nil
}

// succeeded releases the locks an admitted attempt holds (recording their
// end), forgets the failures of the address or device token, and takes
// back the attempt from the IP's count (an office behind one address signs
// in many people; only failures count).
func (s *Service) succeeded(ctx context.Context, tenantID string, limits []limit, held []limit) error {
	for _, l := range held {
		if err := s.cfg.Store.ResetCounter(ctx, tenantID, l.key+":lock"); err != nil {
			return err
		}
		if l.scope != "device" {
			s.record(ctx, tenantID, "signInUnlocked", audit.Success, l, nil)
		}
	}
	if err := s.cfg.Store.ResetCounter(ctx, tenantID, limits[0].key); err != nil {
		return err
	}
	for _, l := range limits[1:] {
		if err := s.cfg.Store.Unhit(ctx, tenantID, l.key); err != nil {
			return err
		}
	}
	return nil
}

// record writes a lock event to the tenant's audit log: its scope
// (account, ip or device) and what it locked (a masked address or an IP).
func (s *Service) record(ctx context.Context, tenantID, activity, result string, l limit, props map[string]string) {
	if s.cfg.Audit == nil {
		return
	}
	p := map[string]string{"scope": l.scope}
	for k, v := range props {
		p[k] = v
	}
	ev := storage.AuditEvent{Category: audit.CategoryAuthentication, Activity: activity, Result: result,
		Target: l.target, Properties: p}
	if result == audit.Failure {
		ev.Reason = "tooManyAttempts"
	}
	s.cfg.Audit.Record(ctx, tenantID, ev)
}

// lockFor is the lock set by the n-th failure against max: FirstLock,
// twice that, four times, ... up to MaxLockout.
func (s *Service) lockFor(n, max int64) time.Duration {
	d := s.cfg.FirstLock
	for shift := n - max; shift > 0 && d < s.cfg.MaxLockout; shift-- {
		d *= 2
	}
	return min(d, s.cfg.MaxLockout)
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
