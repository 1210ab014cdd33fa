package account

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/password"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/redisstore"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // the store-down test makes go-redis log every refused dial
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

const rightPassword = "correct horse battery staple"

// The real argon2id hasher (about 20 ms a hash), and one hash of
// rightPassword shared by every user of every test.
var (
	realHasher = sync.OnceValue(func() *password.Hasher {
		h, err := password.New(password.Config{})
		if err != nil {
			panic(err)
		}
		return h
	})
	rightHash = sync.OnceValue(func() string {
		h, err := realHasher().Hash(context.Background(), rightPassword)
		if err != nil {
			panic(err)
		}
		return h
	})
)

// countingHasher is the real hasher, counting its calls. enter, when set,
// runs at the start of each call.
type countingHasher struct {
	verify, dummy atomic.Int64
	enter         func(ctx context.Context)
}

func (c *countingHasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	c.verify.Add(1)
	if c.enter != nil {
		c.enter(ctx)
	}
	return realHasher().Verify(ctx, encoded, pw)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, pw string) {
	c.dummy.Add(1)
	if c.enter != nil {
		c.enter(ctx)
	}
	realHasher().VerifyDummy(ctx, pw)
}

func (c *countingHasher) calls() (verify, dummy int64) { return c.verify.Load(), c.dummy.Load() }

// env is a tenant in a real store (a real Redis when FOYER_TEST_REDIS_URL
// is set and the test does not need miniredis) with four users.
type env struct {
	store  *redisstore.Store
	mr     *miniredis.Miniredis // nil on a real Redis
	hasher *countingHasher
	tenant string
	// alice has a password; bob is disabled; carol has no password; dave
	// has a UPN and no mail.
	alice, bob, carol, dave storage.User
}

func newEnv(t *testing.T, needMiniredis bool) *env {
	t.Helper()
	e := &env{hasher: &countingHasher{}, tenant: storage.NewID()}
	var client redis.UniversalClient
	if url := os.Getenv("FOYER_TEST_REDIS_URL"); url != "" && !needMiniredis {
		c, err := redisstore.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		client = c
	} else {
		e.mr = miniredis.RunT(t)
		client = redis.NewClient(&redis.Options{Addr: e.mr.Addr(), DialerRetries: 1})
	}
	t.Cleanup(func() { client.Close() })
	e.store = redisstore.New(client, redisstore.Config{})
	mk := func(mail, upn string, enabled bool, hash string) storage.User {
		u := storage.User{ID: storage.NewID(), Mail: mail, UserPrincipalName: upn, AccountEnabled: enabled, UserType: "Member"}
		if err := e.store.CreateUser(t.Context(), e.tenant, u, hash); err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.alice = mk("alice@contoso.example", "alice@contoso.example", true, rightHash())
	e.bob = mk("bob@contoso.example", "bob@contoso.example", false, rightHash())
	e.carol = mk("carol@contoso.example", "carol@contoso.example", true, "")
	e.dave = mk("", "dave@contoso.example", true, rightHash())
	return e
}

func (e *env) service(edit func(*Config)) *Service {
	cfg := Config{Store: e.store, Hasher: e.hasher}
	if edit != nil {
		edit(&cfg)
	}
	return New(cfg)
}

// counter returns the value of the counter key of SignIn ("acct" or "ip").
func (e *env) counter(t *testing.T, kind, v string) int64 {
	t.Helper()
	n, err := e.store.Count(t.Context(), e.tenant, counterKey(kind, v))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lockTTL returns the remaining lock of the address (0 when none).
func (e *env) lockTTL(mail string) time.Duration {
	return e.mr.TTL("foyer:{t:" + e.tenant + "}:counter:" + counterKey("acct", mail) + ":lock")
}

func wantInvalidCredentials(t *testing.T, u storage.User, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("signed in as %+v, want invalidCredentials", u)
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Unauthenticated || fe.Code != "invalidCredentials" ||
		!errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("error %v: want the invalidCredentials fault", err)
	}
	if u.ID != "" {
		t.Fatalf("returned %+v with the error", u)
	}
}

// wantLocked returns the RetryAfter of err, which must be the TooMany fault.
func wantLocked(t *testing.T, u storage.User, err error) time.Duration {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.TooMany || fe.Code != "tooManyAttempts" {
		t.Fatalf("error %v (user %q): want the tooManyAttempts fault", err, u.ID)
	}
	if fe.RetryAfter <= 0 {
		t.Fatalf("RetryAfter = %v, want > 0", fe.RetryAfter)
	}
	if u.ID != "" {
		t.Fatalf("returned %+v with the error", u)
	}
	return fe.RetryAfter
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, false)
	s := e.service(nil)
	for _, tc := range []struct {
		name, email string
		want        storage.User
	}{
		{"mail", "alice@contoso.example", e.alice},
		{"mail in another case", "Alice@CONTOSO.Example", e.alice},
		{"mail with spaces around", "  alice@contoso.example ", e.alice},
		{"UPN of a user without mail", "dave@contoso.example", e.dave},
		{"UPN in another case", "DAVE@contoso.example", e.dave},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v0, d0 := e.hasher.calls()
			u, err := s.SignIn(t.Context(), e.tenant, tc.email, rightPassword, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != tc.want.ID || u.Mail != tc.want.Mail || !u.AccountEnabled {
				t.Fatalf("signed in as %+v, want %+v", u, tc.want)
			}
			if v, d := e.hasher.calls(); v-v0 != 1 || d-d0 != 0 {
				t.Fatalf("hasher calls: %d Verify, %d VerifyDummy; want 1 and 0", v-v0, d-d0)
			}
		})
	}

	t.Run("success resets the address's failures", func(t *testing.T) {
		for range 3 {
			u, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", "wrong", "192.0.2.2")
			wantInvalidCredentials(t, u, err)
		}
		if n := e.counter(t, "acct", "alice@contoso.example"); n != 3 {
			t.Fatalf("account counter %d after 3 failures, want 3", n)
		}
		if _, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", rightPassword, "192.0.2.2"); err != nil {
			t.Fatal(err)
		}
		if n := e.counter(t, "acct", "alice@contoso.example"); n != 0 {
			t.Fatalf("account counter %d after a success, want 0", n)
		}
		// The IP's failures stand (a success does not excuse other
		// guesses); only the successful attempt itself is taken back.
		if n := e.counter(t, "ip", "192.0.2.2"); n != 3 {
			t.Fatalf("IP counter %d, want 3 (the failures)", n)
		}
	})
}

// TestSignInAnswersAlike checks that every wrong combination gets the same
// answer, so that it reveals neither which part was wrong nor whether the
// account exists, and that each spends one argon2id verification (real or
// dummy), so that they take about as long.
func TestSignInAnswersAlike(t *testing.T) {
	e := newEnv(t, false)
	s := e.service(nil)
	var first error
	for i, tc := range []struct {
		name, email, password string
		verify, dummy         int64
	}{
		{"wrong password", "alice@contoso.example", "wrong password", 1, 0},
		{"unknown address", "nobody@contoso.example", "wrong password", 0, 1},
		{"unknown address, password of another user", "nobody@contoso.example", rightPassword, 0, 1},
		{"unknown domain", "alice@fabrikam.example", rightPassword, 0, 1},
		{"disabled account, right password", "bob@contoso.example", rightPassword, 1, 0},
		{"account without a password", "carol@contoso.example", rightPassword, 0, 1},
		{"empty password", "alice@contoso.example", "", 1, 0},
		{"malformed address", "alice", rightPassword, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v0, d0 := e.hasher.calls()
			u, err := s.SignIn(t.Context(), e.tenant, tc.email, tc.password, "192.0.2.10")
			wantInvalidCredentials(t, u, err)
			if v, d := e.hasher.calls(); v-v0 != tc.verify || d-d0 != tc.dummy {
				t.Errorf("hasher calls: %d Verify, %d VerifyDummy; want %d and %d", v-v0, d-d0, tc.verify, tc.dummy)
			}
			if i == 0 {
				first = err
				return
			}
			a, b := fault.From(first), fault.From(err)
			if a.Kind != b.Kind || a.Code != b.Code || a.Message != b.Message || a.RetryAfter != b.RetryAfter ||
				first.Error() != err.Error() || fault.Status(first) != fault.Status(err) {
				t.Errorf("answer differs from a wrong password's:\n%#v\n%#v", b, a)
			}
		})
	}

	t.Run("every failure is counted", func(t *testing.T) {
		for _, mail := range []string{"alice@contoso.example", "nobody@contoso.example", "bob@contoso.example", "carol@contoso.example"} {
			if n := e.counter(t, "acct", mail); n == 0 {
				t.Errorf("no failure counted for %s", mail)
			}
		}
	})
}

func TestSignInLockout(t *testing.T) {
	const ip = "192.0.2.20"
	mail := "alice@contoso.example"

	t.Run("locks after MaxAccountFailures and grows", func(t *testing.T) {
		e := newEnv(t, true)
		s := e.service(nil) // 5 failures, 15 min window
		fail := func(t *testing.T) {
			t.Helper()
			u, err := s.SignIn(t.Context(), e.tenant, mail, "wrong", ip)
			wantInvalidCredentials(t, u, err)
		}
		locked := func(t *testing.T) {
			t.Helper()
			v0, d0 := e.hasher.calls()
			u, err := s.SignIn(t.Context(), e.tenant, mail, rightPassword, ip)
			wantLocked(t, u, err)
			if v, d := e.hasher.calls(); v != v0 || d != d0 {
				t.Fatalf("a locked attempt ran the hasher")
			}
		}
		for range 4 {
			fail(t)
		}
		if d := e.lockTTL(mail); d != 0 {
			t.Fatalf("locked for %v after 4 failures", d)
		}
		fail(t) // the 5th
		if d := e.lockTTL(mail); d != time.Second {
			t.Fatalf("lock after 5 failures: %v, want 1s", d)
		}
		locked(t) // even with the right password
		if v, _ := e.hasher.calls(); v != 5 {
			t.Fatalf("%d verifications, want 5", v)
		}

		e.mr.FastForward(time.Second)
		fail(t) // the 6th
		if d := e.lockTTL(mail); d != 2*time.Second {
			t.Fatalf("lock after 6 failures: %v, want 2s", d)
		}
		e.mr.FastForward(time.Second)
		locked(t)
		e.mr.FastForward(time.Second)
		fail(t) // the 7th
		if d := e.lockTTL(mail); d != 4*time.Second {
			t.Fatalf("lock after 7 failures: %v, want 4s", d)
		}
		e.mr.FastForward(3 * time.Second)
		locked(t)
		e.mr.FastForward(time.Second)
		if _, err := s.SignIn(t.Context(), e.tenant, mail, rightPassword, ip); err != nil {
			t.Fatalf("right password after the lock: %v", err)
		}
		// The success reset the count: one failure does not lock again.
		fail(t)
		if d := e.lockTTL(mail); d != 0 {
			t.Fatalf("locked for %v after one failure following a success", d)
		}
	})

	t.Run("the lock is per address", func(t *testing.T) {
		e := newEnv(t, true)
		s := e.service(func(c *Config) { c.MaxAccountFailures = 2 })
		for range 2 {
			u, err := s.SignIn(t.Context(), e.tenant, "nobody@contoso.example", "wrong", ip)
			wantInvalidCredentials(t, u, err)
		}
		u, err := s.SignIn(t.Context(), e.tenant, "NOBODY@contoso.example", "wrong", "198.51.100.1")
		wantLocked(t, u, err) // an unknown address locks alike, under any spelling and from any IP
		if _, err := s.SignIn(t.Context(), e.tenant, mail, rightPassword, ip); err != nil {
			t.Fatalf("another address from the same IP: %v", err)
		}
	})

	t.Run("capped by MaxLockout", func(t *testing.T) {
		e := newEnv(t, true)
		s := e.service(func(c *Config) { c.MaxAccountFailures = 2; c.MaxLockout = 2 * time.Second })
		for _, want := range []time.Duration{0, time.Second, 2 * time.Second, 2 * time.Second} {
			u, err := s.SignIn(t.Context(), e.tenant, mail, "wrong", ip)
			wantInvalidCredentials(t, u, err)
			if d := e.lockTTL(mail); d != want {
				t.Fatalf("lock %v, want %v", d, want)
			}
			e.mr.FastForward(want)
		}
	})

	t.Run("failures older than the window are forgotten", func(t *testing.T) {
		e := newEnv(t, true)
		s := e.service(func(c *Config) { c.MaxAccountFailures = 3; c.Window = time.Minute })
		for range 2 {
			u, err := s.SignIn(t.Context(), e.tenant, mail, "wrong", ip)
			wantInvalidCredentials(t, u, err)
		}
		e.mr.FastForward(time.Minute)
		for range 2 {
			u, err := s.SignIn(t.Context(), e.tenant, mail, "wrong", ip)
			wantInvalidCredentials(t, u, err)
		}
		if d := e.lockTTL(mail); d != 0 {
			t.Fatalf("locked for %v by failures in two windows", d)
		}
	})
}

// TestSignInRetryAfter checks that Retry-After is honest: a client that
// waits as long as it says is not refused again by the same lock.
func TestSignInRetryAfter(t *testing.T) {
	e := newEnv(t, true)
	s := e.service(nil)
	mail := "alice@contoso.example"
	for range 5 {
		u, err := s.SignIn(t.Context(), e.tenant, mail, "wrong", "192.0.2.30")
		wantInvalidCredentials(t, u, err)
	}
	e.mr.FastForward(time.Second)
	u, err := s.SignIn(t.Context(), e.tenant, mail, "wrong", "192.0.2.30") // 6th failure: locked 2 s
	wantInvalidCredentials(t, u, err)
	if d := e.lockTTL(mail); d != 2*time.Second {
		t.Fatalf("lock %v, want 2s", d)
	}

	u, err = s.SignIn(t.Context(), e.tenant, mail, rightPassword, "192.0.2.30")
	wait := wantLocked(t, u, err)
	if wait > 15*time.Minute {
		t.Fatalf("RetryAfter %v beyond MaxLockout", wait)
	}
	e.mr.FastForward(wait)
	if u, err := s.SignIn(t.Context(), e.tenant, mail, rightPassword, "192.0.2.30"); err != nil {
		t.Fatalf("refused after waiting the RetryAfter of %v (%v of the lock remained): %v", wait, e.lockTTL(mail), err)
	} else if u.ID != e.alice.ID {
		t.Fatalf("signed in as %q", u.ID)
	}
}

func TestSignInIPLimit(t *testing.T) {
	e := newEnv(t, true)
	s := e.service(func(c *Config) { c.MaxIPFailures = 3 })
	const ip, otherIP = "203.0.113.7", "2001:db8::1"
	// Guesses spread over many addresses stay under each address's limit...
	for _, mail := range []string{"a@contoso.example", "b@contoso.example", "c@contoso.example"} {
		u, err := s.SignIn(t.Context(), e.tenant, mail, "wrong", ip)
		wantInvalidCredentials(t, u, err)
	}
	// ...but lock the IP, for every address, the right password included.
	u, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", rightPassword, ip)
	wantLocked(t, u, err)
	u, err = s.SignIn(t.Context(), e.tenant, "d@contoso.example", "wrong", ip)
	wantLocked(t, u, err)
	if v, d := e.hasher.calls(); v+d != 3 {
		t.Fatalf("%d verifications, want 3", v+d)
	}
	// Other IPs are not affected.
	if _, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", rightPassword, otherIP); err != nil {
		t.Fatalf("from another IP: %v", err)
	}
	e.mr.FastForward(time.Second)
	if _, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", rightPassword, ip); err != nil {
		t.Fatalf("after the IP lock: %v", err)
	}
}

// TestSignInParallelGuesses sends n wrong passwords for one address at
// once. Each attempt is counted before its password is checked, so that
// parallel guesses cannot slip past the limit: at most MaxAccountFailures
// verifications may run, as for sequential guesses.
//
// The hasher holds every attempt that reaches it until all n have either
// reached it or returned, so the test does not depend on scheduling: an
// attempt the code refuses must be refused without waiting for another
// attempt's verification to finish.
func TestSignInParallelGuesses(t *testing.T) {
	const n, maxFailures = 16, 5
	for _, tc := range []struct{ name, mail string }{
		{"known address", "alice@contoso.example"},
		{"unknown address", "nobody@contoso.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			s := e.service(func(c *Config) { c.MaxAccountFailures = maxFailures })
			b := newBarrier(n)
			e.hasher.enter = b.enter

			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					ctx, arrived := b.attempt(t.Context())
					var u storage.User
					u, errs[i] = s.SignIn(ctx, e.tenant, tc.mail, "wrong", fmt.Sprintf("198.51.100.%d", i+1))
					arrived()
					if u.ID != "" {
						t.Errorf("attempt %d signed in", i)
					}
				})
			}
			wg.Wait()

			var refused int
			for i, err := range errs {
				switch fault.From(err).Code {
				case "invalidCredentials":
				case "tooManyAttempts":
					refused++
				default:
					t.Errorf("attempt %d: %v", i, err)
				}
			}
			v, d := e.hasher.calls()
			// Every attempt that reached the hasher was counted first.
			// (Attempts refused by a lock already set are not counted.)
			if c := e.counter(t, "acct", tc.mail); c < v+d || c > n {
				t.Errorf("account counter %d after %d verifications of %d attempts", c, v+d, n)
			}
			t.Logf("%d attempts: %d verifications, %d refused", n, v+d, refused)
			if v+d > maxFailures {
				t.Errorf("%d password verifications for %d parallel guesses, want at most MaxAccountFailures = %d", v+d, n, maxFailures)
			}
			// The address reached its limit: every further attempt must take
			// the lock. On a real Redis the 1 s lock may have run out in
			// real time on a loaded machine, so only the count is checked
			// there; the embedded server's clock stands still.
			if c := e.counter(t, "acct", tc.mail); c < maxFailures {
				t.Errorf("account counter %d after the guesses, want at least %d", c, maxFailures)
			}
			if e.mr != nil {
				u, err := s.SignIn(t.Context(), e.tenant, tc.mail, rightPassword, "192.0.2.99")
				wantLocked(t, u, err)
			}
		})
	}
}

// barrier holds hasher calls until each of n attempts has either reached
// the hasher or returned.
type barrier struct {
	mu      sync.Mutex
	pending int
	release chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{pending: n, release: make(chan struct{})} }

type arrivedKey struct{}

func (b *barrier) arrive() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending--; b.pending == 0 {
		close(b.release)
	}
}

// attempt returns the context for one attempt and the function to call
// when it returns.
func (b *barrier) attempt(ctx context.Context) (context.Context, func()) {
	var once atomic.Bool
	ctx = context.WithValue(ctx, arrivedKey{}, &once)
	return ctx, func() {
		if once.CompareAndSwap(false, true) {
			b.arrive()
		}
	}
}

// enter is the hasher hook: the attempt has arrived; wait for the others.
func (b *barrier) enter(ctx context.Context) {
	if once, ok := ctx.Value(arrivedKey{}).(*atomic.Bool); ok && once.CompareAndSwap(false, true) {
		b.arrive()
		<-b.release
	}
}

func TestSignInStoreDown(t *testing.T) {
	e := newEnv(t, true)
	s := e.service(nil)
	e.mr.Close()
	u, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", rightPassword, "192.0.2.40")
	if err == nil {
		t.Fatalf("signed in as %+v with the store down", u)
	}
	if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("error %v: want storage.ErrUnavailable, not invalid credentials", err)
	}
	if k := fault.From(err).Kind; k != fault.Unavailable {
		t.Fatalf("fault kind %v, want Unavailable", k)
	}
	if v, d := e.hasher.calls(); v+d != 0 {
		t.Fatalf("the hasher ran with the store down")
	}
}

// TestSignInIPCountsOnlyFailures: many people behind one address (an
// office) sign in successfully without ever locking it; only failures
// count toward the IP's limit.
func TestSignInIPCountsOnlyFailures(t *testing.T) {
	e := newEnv(t, false)
	s := e.service(func(c *Config) { c.MaxIPFailures = 3 })
	const ip = "198.51.100.9"
	for i := 0; i < 6; i++ {
		if _, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", rightPassword, ip); err != nil {
			t.Fatalf("successful sign-in %d from one address: %v", i+1, err)
		}
	}
	if n := e.counter(t, "ip", ip); n != 0 {
		t.Fatalf("IP counter after 6 successes = %d, want 0", n)
	}
	for i := 0; i < 2; i++ {
		u, err := s.SignIn(t.Context(), e.tenant, "alice@contoso.example", "wrong", ip)
		wantInvalidCredentials(t, u, err)
	}
	if n := e.counter(t, "ip", ip); n != 2 {
		t.Fatalf("IP counter after 2 failures = %d, want 2", n)
	}
}
