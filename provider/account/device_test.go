package account

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/storage"
)

var deviceKey = []byte("0123456789abcdef0123456789abcdef")

// offsetClock is real time plus an offset the test advances.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// deviceService is a Service with device tokens and an audit log.
func (e *env) deviceService(clock *offsetClock, edit func(*Config)) *Service {
	return e.service(func(c *Config) {
		c.DeviceKey = deviceKey
		c.Audit = audit.New(audit.Config{Store: e.store, Clock: clock.now})
		c.Clock = clock.now
		if edit != nil {
			edit(c)
		}
	})
}

// auditCount counts the tenant's events of activity and scope.
func (e *env) auditCount(t *testing.T, activity, scope string) int {
	t.Helper()
	evs, err := e.store.ListAudit(t.Context(), e.tenant, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Activity == activity && ev.Properties["scope"] == scope {
			if ev.Category != audit.CategoryAuthentication || strings.Contains(ev.Target, "alice@") {
				t.Fatalf("event %+v: want category Authentication and a masked address", ev)
			}
			n++
		}
	}
	return n
}

// TestDeviceTokenBeatsMaliciousLockout: failures from elsewhere lock the
// address for everyone but a browser that signed in to it before; its own
// failures are counted per token, and a token that reaches its limit is
// trusted no more. A token of another address, tenant or key, a forged or
// expired one, gives nothing.
func TestDeviceTokenBeatsMaliciousLockout(t *testing.T) {
	e := newEnv(t, true)
	clock := &offsetClock{}
	s := e.deviceService(clock, nil)
	const mail = "alice@contoso.example"
	attempt := func(pw, ip, token string) (SignedIn, error) {
		return s.Authenticate(t.Context(), Attempt{TenantID: e.tenant, Email: mail, Password: pw, IP: ip, Device: token})
	}

	// Alice signs in on her laptop and keeps its device token.
	first, err := attempt(rightPassword, "192.0.2.1", "")
	if err != nil {
		t.Fatal(err)
	}
	token := first.Device
	if token == "" || strings.Contains(token, "alice") || first.DeviceExpires.Before(clock.now().Add(89*24*time.Hour)) {
		t.Fatalf("device token %q expiring %v", token, first.DeviceExpires)
	}
	if slot := s.DeviceSlot(e.tenant, " Alice@CONTOSO.example"); slot == "" || slot != s.DeviceSlot(e.tenant, mail) ||
		slot == s.DeviceSlot(e.tenant, "bob@contoso.example") || slot == s.DeviceSlot(storage.NewID(), mail) {
		t.Fatalf("DeviceSlot is not one stable name per address and tenant: %q", slot)
	}

	// An attacker sprays wrong passwords from many addresses: the address
	// locks, for the right password too, without the token.
	for i := range 5 {
		r, err := attempt("wrong", fmt.Sprintf("198.51.100.%d", i+1), "")
		wantInvalidCredentials(t, r.User, err)
	}
	r, err := attempt(rightPassword, "203.0.113.9", "")
	wantLocked(t, r.User, err)
	if e.auditCount(t, "signInLocked", "account") != 1 {
		t.Fatalf("the lock is not in the audit log")
	}

	// Alice's browser, from any IP, is not locked out.
	r, err = attempt(rightPassword, "203.0.113.10", token)
	if err != nil {
		t.Fatalf("browser with its device token, during a lock by others: %v", err)
	}
	if r.User.ID != e.alice.ID || r.Device == "" || r.Device == token {
		t.Fatalf("signed in as %q with device token %q", r.User.ID, r.Device)
	}
	renewed := r.Device
	// Her success neither lifted the lock for others nor reset the count
	// of their failures.
	if n := e.counter(t, "acct", mail); n != 5 {
		t.Fatalf("account counter %d after a success with a device token, want the 5 failures", n)
	}
	r, err = attempt(rightPassword, "203.0.113.9", "")
	wantLocked(t, r.User, err)

	t.Run("no exemption without a valid token of this address", func(t *testing.T) {
		bob, err := e.deviceService(clock, nil).Authenticate(t.Context(), Attempt{TenantID: e.tenant,
			Email: "dave@contoso.example", Password: rightPassword, IP: "192.0.2.5"})
		if err != nil {
			t.Fatal(err)
		}
		other := e.deviceService(clock, func(c *Config) { c.DeviceKey = []byte("another key, another deployment") })
		forged, _ := other.newDevice(e.tenant, mail)
		elsewhere, _ := s.newDevice(storage.NewID(), mail)
		parts := strings.Split(token, ".")
		for name, tok := range map[string]string{
			"token of another user":   bob.Device,
			"token of another tenant": elsewhere,
			"token under another key": forged,
			"nonce changed":           flipFirst(token),
			"expiry pushed":           parts[0] + "." + parts[1] + "9." + parts[2],
			"signature cut":           token[:len(token)-2],
			"garbage":                 "x.y.z",
			"empty":                   "",
			"too long":                token + strings.Repeat("A", 200),
		} {
			r, err := attempt(rightPassword, "203.0.113.11", tok)
			if err == nil {
				t.Fatalf("%s: signed in during the lock", name)
			}
			wantLocked(t, r.User, err)
		}
		// Nothing was counted against Alice's real token.
		if n := e.counter(t, "dev", parts[0]); n != 0 {
			t.Fatalf("device counter %d", n)
		}
	})

	t.Run("an expired token gives nothing", func(t *testing.T) {
		old, _ := s.newDevice(e.tenant, mail)
		clock.advance(91 * 24 * time.Hour)
		defer clock.advance(-91 * 24 * time.Hour)
		r, err := attempt(rightPassword, "203.0.113.12", old)
		wantLocked(t, r.User, err)
	})

	t.Run("the token's own failures revoke it", func(t *testing.T) {
		tok := renewed
		nonce := strings.Split(tok, ".")[0]
		for i := range 4 {
			r, err := attempt("wrong", "203.0.113.13", tok)
			wantInvalidCredentials(t, r.User, err)
			if n := e.counter(t, "dev", nonce); n != int64(i+1) {
				t.Fatalf("device counter %d after %d failures", n, i+1)
			}
		}
		if n := e.counter(t, "acct", mail); n != 5 {
			t.Fatalf("the token's failures counted on the address: %d", n)
		}
		r, err := attempt("wrong", "203.0.113.13", tok) // the 5th: revoked
		wantInvalidCredentials(t, r.User, err)
		if e.auditCount(t, "signInDeviceRevoked", "device") != 1 {
			t.Fatalf("the revocation is not in the audit log")
		}
		// Now the token is no token: the address's lock applies, the
		// right password included.
		r, err = attempt(rightPassword, "203.0.113.13", tok)
		wantLocked(t, r.User, err)
		if n := e.counter(t, "dev", nonce); n != 5 {
			t.Fatalf("a revoked token was counted as a device: %d", n)
		}
		// Past the window the address's lock and counts are gone, the
		// revocation is not: a failure counts on the address again.
		e.mr.FastForward(time.Hour)
		r, err = attempt("wrong", "203.0.113.13", tok)
		wantInvalidCredentials(t, r.User, err)
		if a, d := e.counter(t, "acct", mail), e.counter(t, "dev", nonce); a != 1 || d != 0 {
			t.Fatalf("after the window, a revoked token's failure: account counter %d, device counter %d", a, d)
		}
	})
}

// TestDeviceTokenKeepsIPLimit: a device token exempts from the address's
// lock, never from the IP's.
func TestDeviceTokenKeepsIPLimit(t *testing.T) {
	e := newEnv(t, true)
	clock := &offsetClock{}
	s := e.deviceService(clock, func(c *Config) { c.MaxIPFailures = 3 })
	const ip = "203.0.113.50"
	r, err := s.Authenticate(t.Context(), Attempt{TenantID: e.tenant, Email: "alice@contoso.example", Password: rightPassword, IP: "192.0.2.50"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a@contoso.example", "b@contoso.example", "c@contoso.example"} {
		x, err := s.Authenticate(t.Context(), Attempt{TenantID: e.tenant, Email: m, Password: "wrong", IP: ip})
		wantInvalidCredentials(t, x.User, err)
	}
	x, err := s.Authenticate(t.Context(), Attempt{TenantID: e.tenant, Email: "alice@contoso.example", Password: rightPassword, IP: ip, Device: r.Device})
	wantLocked(t, x.User, err)
	if e.auditCount(t, "signInLocked", "ip") != 1 {
		t.Fatalf("the IP's lock is not in the audit log")
	}
}

// TestLockEndInAudit: the success that an address's lock admitted ends the
// lock, and says so in the audit log; the lock event names its end.
func TestLockEndInAudit(t *testing.T) {
	e := newEnv(t, true)
	clock := &offsetClock{}
	s := e.deviceService(clock, nil)
	for range 5 {
		u, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", "wrong", "192.0.2.60")
		wantInvalidCredentials(t, u, err)
	}
	evs, _ := e.store.ListAudit(t.Context(), e.tenant, 10, "")
	if len(evs) != 1 || evs[0].Activity != "signInLocked" || evs[0].Properties["failures"] != "5" ||
		evs[0].Target != "a***@contoso.example" || evs[0].Result != audit.Failure {
		t.Fatalf("audit %+v, want one signInLocked", evs)
	}
	until, err := time.Parse(time.RFC3339, evs[0].Properties["lockedUntil"])
	if err != nil || until.Before(clock.now()) || until.After(clock.now().Add(2*time.Second)) {
		t.Fatalf("lockedUntil %q, want about a second from now", evs[0].Properties["lockedUntil"])
	}
	e.mr.FastForward(time.Second)
	if _, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", rightPassword, "192.0.2.60"); err != nil {
		t.Fatal(err)
	}
	if e.auditCount(t, "signInUnlocked", "account") != 1 {
		t.Fatalf("the lock's end is not in the audit log")
	}
}

// TestFirstLock: the first lock lasts FirstLock and doubles from there.
func TestFirstLock(t *testing.T) {
	e := newEnv(t, true)
	s := e.service(func(c *Config) { c.MaxAccountFailures = 2; c.FirstLock = time.Minute; c.MaxLockout = 3 * time.Minute })
	for _, want := range []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute} {
		u, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", "wrong", "192.0.2.70")
		wantInvalidCredentials(t, u, err)
		if d := e.lockTTL("alice@contoso.example"); d != want {
			t.Fatalf("lock %v, want %v", d, want)
		}
		e.mr.FastForward(want)
	}
}

// flipFirst returns tok with its first character replaced by another one
// of the base64url alphabet.
func flipFirst(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}
