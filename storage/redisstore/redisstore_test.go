package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/storagetest"
)

// redisURLEnv names a real Redis to run the suite and the benchmarks
// against, such as redis://localhost:6379/15. The test flushes that
// database (every master of a Cluster) first.
const redisURLEnv = "FOYER_TEST_REDIS_URL"

// layout matches every key the store may write.
var layout = regexp.MustCompile(`^foyer:\{(g|t:[^{}]+)\}:[a-z-]+(:|$)`)

func TestEmbedded(t *testing.T) {
	storagetest.RunHarness(t, func(t *testing.T) storagetest.Harness {
		e, err := NewEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		e.stopExpiry() // the fake clock alone moves TTLs
		t.Cleanup(func() {
			e.Close()
			for _, k := range e.Server.Keys() {
				if !layout.MatchString(k) {
					t.Errorf("key %q is outside the documented layout", k)
				}
			}
		})
		clock := &fakeClock{m: e.Server, now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		return storagetest.Harness{
			Store:   New(e.Client, Config{Clock: clock.Now}),
			Now:     clock.Now,
			Advance: clock.Advance,
			Stop:    e.Server.Close,
		}
	})
}

// TestEmbeddedExpires checks that the embedded server expires keys on real
// time, which the suite replaces with a fake clock.
func TestEmbeddedExpires(t *testing.T) {
	e, err := NewEmbedded()
	must(t, err)
	defer e.Close()
	must(t, e.Client.Set(t.Context(), "k", "v", 100*time.Millisecond).Err())
	deadline := time.Now().Add(100*time.Millisecond + 2*expireEvery)
	for e.Server.Exists("k") {
		if time.Now().After(deadline) {
			t.Fatal("the key outlived its TTL by more than expireEvery")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeClock is the store's clock; advancing it fast-forwards the embedded
// server's TTLs.
type fakeClock struct {
	mu  sync.Mutex
	m   *miniredis.Miniredis
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.m.FastForward(d)
}

// conformanceDB is the database the suite flushes and fills on a single
// server: other packages' tests run at the same time on the URL's own
// database (never flushed), so the suite keeps to its own.
const conformanceDB = "15"

// isolated returns url pointed at conformanceDB; Cluster URLs are
// returned as they are (a Cluster has only database 0: run the suite alone
// there).
func isolated(t testing.TB, raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	switch u.Scheme {
	case "redis", "rediss", "redis+sentinel", "rediss+sentinel":
	default:
		return raw
	}
	u.Path = "/" + conformanceDB
	return u.String()
}

func TestRedis(t *testing.T) {
	url := os.Getenv(redisURLEnv)
	if url == "" {
		t.Skip(redisURLEnv + " is not set")
	}
	conformance(t, isolated(t, url))
}

// conformance flushes the deployment url names and runs the suite on it,
// taking it down with an outage hook.
func conformance(t *testing.T, url string) {
	flush(t, url)
	storagetest.RunHarness(t, func(t *testing.T) storagetest.Harness {
		c, err := Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		o := &outage{}
		c.AddHook(o)
		return storagetest.Harness{Store: New(c, Config{}), Stop: func() { o.down.Store(true) }}
	})
}

// flush empties the test database.
func flush(t testing.TB, url string) {
	c, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(t.Context(), func(ctx context.Context, n *redis.Client) error { return n.FlushDB(ctx).Err() })
	} else {
		err = c.FlushDB(t.Context()).Err()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// outage is a client hook that, once down, fails every dial and command as
// a network partition would.
type outage struct{ down atomic.Bool }

var errOutage = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("simulated outage")}

func (o *outage) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if o.down.Load() {
			return nil, errOutage
		}
		return next(ctx, network, addr)
	}
}

func (o *outage) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if o.down.Load() {
			cmd.SetErr(errOutage)
			return errOutage
		}
		return next(ctx, cmd)
	}
}

func (o *outage) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if o.down.Load() {
			for _, c := range cmds {
				c.SetErr(errOutage)
			}
			return errOutage
		}
		return next(ctx, cmds)
	}
}

// TestAuditMaxLen checks that appending trims the audit log to
// Config.AuditMaxLen, keeping the newest events, and that 0 means 10000.
func TestAuditMaxLen(t *testing.T) {
	e, err := NewEmbedded()
	must(t, err)
	defer e.Close()
	if n := New(e.Client, Config{}).auditMaxLen; n != 10000 {
		t.Errorf("the default cap is %d, want 10000", n)
	}
	s, ctx := New(e.Client, Config{AuditMaxLen: 10}), t.Context()
	var newest string
	for i := range 25 {
		newest, err = s.AppendAudit(ctx, "tenant", storage.AuditEvent{Activity: fmt.Sprint(i)})
		must(t, err)
	}
	// The embedded server trims exactly; Redis trims whole stream nodes
	// and may keep more.
	es, err := s.ListAudit(ctx, "tenant", 100, "")
	must(t, err)
	if len(es) != 10 || es[0].ID != newest || es[0].Activity != "24" || es[9].Activity != "15" {
		t.Errorf("kept %d events, newest first %+v, want events 24 down to 15", len(es), es)
	}
}

// TestListAuditBefore checks the cursors Redis would refuse: a malformed
// ID is the caller's error, not an outage, and nothing is older than 0-0.
func TestListAuditBefore(t *testing.T) {
	var c redis.UniversalClient
	if url := os.Getenv(redisURLEnv); url != "" {
		oc, err := Open(t.Context(), url)
		must(t, err)
		c = oc
	} else {
		e, err := NewEmbedded()
		must(t, err)
		c = e.Client
		defer e.Close()
	}
	defer c.Close()
	s, tn := New(c, Config{}), fmt.Sprint("audit-", time.Now().UnixNano())
	ctx, tracker := storage.TrackFailures(t.Context())
	_, err := s.AppendAudit(ctx, tn, storage.AuditEvent{Activity: "userCreated"})
	must(t, err)
	for _, before := range []string{"abc", "1", "1-", "-1", "1-2-3", "(1-0", "+"} {
		if es, err := s.ListAudit(ctx, tn, 10, before); err == nil || errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("ListAudit before %q = %v, %v; want an error other than storage.ErrUnavailable", before, es, err)
		}
	}
	if es, err := s.ListAudit(ctx, tn, 10, "0-0"); err != nil || len(es) != 0 {
		t.Errorf("ListAudit before 0-0 = %v, %v; want none", es, err)
	}
	if es, err := s.ListAudit(ctx, tn, 10, "18446744073709551615-18446744073709551615"); err != nil || len(es) != 1 {
		t.Errorf("ListAudit before the largest ID = %v, %v; want the event", es, err)
	}
	if tracker.Failed() {
		t.Error("the failure tracker was marked")
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want string // client type, or "error"
	}{
		{"redis://localhost:6379/15", "*redis.Client"},
		{"rediss://user:pass@localhost:6380/0?dial_timeout=3s", "*redis.Client"},
		{"unix:///run/redis.sock?db=2", "*redis.Client"},
		{"redis+sentinel://s1:26379/0?master_name=mymaster&addr=s2:26379", "*redis.Client"},
		{"rediss+sentinel://s1:26379?master_name=mymaster", "*redis.Client"},
		{"redis+cluster://n1:7000?addr=n2:7001&addr=n3:7002", "*redis.ClusterClient"},
		{"rediss+cluster://user:pass@n1:7000", "*redis.ClusterClient"},
		{"redis+sentinel://s1:26379", "error"}, // no master_name
		{"redis+ring://n1:7000", "error"},
		{"http://localhost:6379", "error"},
		{"localhost:6379", "error"},
		{"redis://localhost:6379/0?no_such_option=1", "error"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, err := parseURL(tc.url)
			got := "error"
			if err == nil {
				got = fmt.Sprintf("%T", c)
				c.Close()
			}
			if got != tc.want {
				t.Errorf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func TestParseURLHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://user:s3cret@[::1", "redis+cluster://user:s3cret@host:notaport"} {
		if _, err := parseURL(u); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("parseURL(%q) = %v, want an error without the password", u, err)
		}
	}
}

func TestOpen(t *testing.T) {
	m := miniredis.RunT(t)
	c, err := Open(t.Context(), "redis://"+m.Addr()+"/3")
	if err != nil {
		t.Fatal(err)
	}
	must(t, c.Set(t.Context(), "k", "v", 0).Err())
	c.Close()
	if !m.DB(3).Exists("k") {
		t.Error("Open ignored the database number")
	}

	addr := m.Addr()
	m.Close()
	ctx, tracker := storage.TrackFailures(t.Context())
	if _, err := Open(ctx, "redis://"+addr+"?max_retries=-1"); !errors.Is(err, storage.ErrUnavailable) || !tracker.Failed() {
		t.Errorf("Open of a closed server = %v (tracked %v), want storage.ErrUnavailable, tracked", err, tracker.Failed())
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// benchStore returns a store on FOYER_TEST_REDIS_URL or, without it, on
// the embedded server.
func benchStore(b *testing.B) *Store {
	if url := os.Getenv(redisURLEnv); url != "" {
		c, err := Open(b.Context(), url)
		must(b, err)
		b.Cleanup(func() { c.Close() })
		return New(c, Config{})
	}
	e, err := NewEmbedded()
	must(b, err)
	b.Cleanup(func() { e.Close() })
	return New(e.Client, Config{})
}

func benchGrant(b *testing.B, s *Store, tenantID string) storage.Grant {
	now := time.Now()
	g := storage.Grant{
		ID: fmt.Sprint("grant-", now.UnixNano()), UserID: "alice", ClientID: "app",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	must(b, s.CreateGrant(b.Context(), tenantID, g))
	return g
}

func benchTenant() string { return fmt.Sprint("bench-", time.Now().UnixNano()) }

func BenchmarkGetApp(b *testing.B) {
	s, tn := benchStore(b), benchTenant()
	a := storage.App{
		ClientID: tn + "-client", DisplayName: "App",
		RedirectURIs: []string{"https://app.example/cb"}, AllowedScopes: []string{"openid"},
	}
	must(b, s.CreateApp(b.Context(), tn, a))
	for b.Loop() {
		if _, err := s.GetApp(b.Context(), tn, a.ClientID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTakeOnce(b *testing.B) {
	s, tn, ctx := benchStore(b), benchTenant(), b.Context()
	for i := range b.N {
		must(b, s.PutOnce(ctx, tn, "code", fmt.Sprint(i), []byte("grant-id"), time.Minute))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.TakeOnce(ctx, tn, "code", fmt.Sprint(i), time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	s, tn, ctx := benchStore(b), benchTenant(), b.Context()
	g := benchGrant(b, s, tn)
	rt := storage.RefreshToken{
		Hash: "rt", GrantID: g.ID, UserID: g.UserID, ClientID: g.ClientID,
		Scopes: []string{"openid"}, ExpiresAt: g.ExpiresAt,
	}
	must(b, s.SaveRefreshToken(ctx, tn, rt))
	i := 0
	for b.Loop() {
		old := rt.Hash
		i++
		rt.Hash = fmt.Sprint("rt", i)
		if err := s.RotateRefreshToken(ctx, tn, old, rt, storage.Rotation{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenActive(b *testing.B) {
	s, tn := benchStore(b), benchTenant()
	g := benchGrant(b, s, tn)
	for b.Loop() {
		if ok, err := s.TokenActive(b.Context(), tn, g.ID, "jti"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
