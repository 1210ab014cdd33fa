package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// fakeHasher "hashes" with a salted SHA-256 and counts its calls.
type fakeHasher struct {
	mu    sync.Mutex
	calls int
	salt  int
}

func (h *fakeHasher) Hash(_ context.Context, pw string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	h.salt++
	sum := sha256.Sum256([]byte(string(rune('a'+h.salt%26)) + pw))
	return "$fake$" + hex.EncodeToString(sum[:]), nil
}

func (h *fakeHasher) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// fakeKeys records the tenants it was asked about.
type fakeKeys struct {
	mu      sync.Mutex
	tenants []string
}

func (k *fakeKeys) EnsureKeys(_ context.Context, tenantID string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tenants = append(k.tenants, tenantID)
	return nil
}

type fixture struct {
	store  Store
	dump   func() string
	hasher *fakeHasher
	keys   *fakeKeys
	p      *Provisioner
}

// newFixture returns a provisioner over a fresh memStore, or over st when
// given (for other backends).
func newFixture(t *testing.T, st Store, dump func() string) *fixture {
	t.Helper()
	if st == nil {
		m := newMemStore()
		st, dump = m, m.dump
	}
	f := &fixture{store: st, dump: dump, hasher: &fakeHasher{}, keys: &fakeKeys{}}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := New(Config{
		Store:  st,
		Hasher: f.hasher,
		Keys:   f.keys,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  func() time.Time { clock = clock.Add(time.Second); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	return f
}

func (f *fixture) apply(t *testing.T, d *Document) Report {
	t.Helper()
	rep, err := f.p.Apply(context.Background(), d)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return rep
}

func counts(c, u, n int) Counts { return Counts{Created: c, Updated: u, Unchanged: n} }

func checkReport(t *testing.T, got Report, tenants, domains, apps, users Counts) {
	t.Helper()
	want := Report{Tenants: tenants, Domains: domains, Apps: apps, Users: users}
	if got.String() != want.String() {
		t.Errorf("report:\n %v\nwant\n %v", got, want)
	}
}

func TestApplyIdempotent(t *testing.T) {
	testApplyIdempotent(t, newFixture(t, nil, nil))
}

func testApplyIdempotent(t *testing.T, f *fixture) {
	ctx := context.Background()
	rep := f.apply(t, mustParse(t, baseYAML, defaultSecrets()))
	checkReport(t, rep, counts(2, 0, 0), counts(3, 0, 0), counts(3, 0, 0), counts(2, 0, 0))
	if rep.Changes() != 10 {
		t.Errorf("Changes() = %d, want 10", rep.Changes())
	}
	if f.hasher.count() != 2 {
		t.Errorf("hashed %d passwords, want 2", f.hasher.count())
	}
	before := f.dump()

	// A restart parses and applies the same file again.
	rep = f.apply(t, mustParse(t, baseYAML, defaultSecrets()))
	checkReport(t, rep, counts(0, 0, 2), counts(0, 0, 3), counts(0, 0, 3), counts(0, 0, 2))
	if rep.Changes() != 0 {
		t.Errorf("second apply made %d changes", rep.Changes())
	}
	if after := f.dump(); after != before {
		t.Errorf("second apply changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if f.hasher.count() != 2 {
		t.Errorf("second apply hashed passwords again (%d calls)", f.hasher.count())
	}
	if got := len(f.keys.tenants); got != 4 {
		t.Errorf("EnsureKeys called %d times, want once per tenant per apply (4)", got)
	}

	// What was stored.
	cid := rep.TenantIDs["contoso"]
	ct, err := f.store.GetTenant(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	wantPolicy := storage.DefaultPolicy(storage.External)
	wantPolicy.AllowedToUseSSPR = false
	if ct.Policy != wantPolicy || ct.PasswordMinLength != 12 || ct.DisplayName != "Contoso" || ct.Kind != storage.External || !storage.IsID(ct.ID) {
		t.Errorf("contoso = %+v", ct)
	}
	ft, err := f.store.GetTenant(ctx, rep.TenantIDs["fabrikam"])
	if err != nil {
		t.Fatal(err)
	}
	if ft.Policy != storage.DefaultPolicy(storage.Workforce) || ft.DisplayName != "fabrikam" {
		t.Errorf("fabrikam = %+v", ft)
	}
	if doms, _ := f.store.Domains(ctx, ft.ID); !slices.Equal(doms, []string{"fabrikam.com", "fabrikam.net"}) {
		t.Errorf("fabrikam domains = %v", doms)
	}
	web, err := f.store.GetApp(ctx, cid, "contoso-web")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(testWebSecret))
	if !bytes.Equal(web.SecretHash, sum[:]) || web.DisplayName != "contoso-web" {
		t.Errorf("contoso-web = %+v", web)
	}
	spa, _ := f.store.GetApp(ctx, cid, "contoso-spa")
	if spa.Confidential() || !spa.SignUpEnabled || !slices.Equal(spa.AllowedScopes, []string{"openid", "profile", "email", "offline_access", "User.Read"}) {
		t.Errorf("contoso-spa = %+v", spa)
	}

	adminID, err := f.store.UserIDByUPN(ctx, cid, "admin@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := f.store.GetUser(ctx, cid, adminID)
	wantIDs := []storage.ObjectIdentity{
		{SignInType: "emailAddress", Issuer: "contoso", IssuerAssignedID: "admin@contoso.com"},
		{SignInType: "userPrincipalName", Issuer: "contoso", IssuerAssignedID: "admin@contoso.com"},
	}
	if !slices.Equal(admin.Identities, wantIDs) || !slices.Equal(admin.Roles, []string{"Global Administrator"}) ||
		admin.CreationType != "" || admin.UserType != "Member" || !admin.AccountEnabled || admin.Mail != "admin@contoso.com" {
		t.Errorf("admin = %+v", admin)
	}
	aliceID, err := f.store.UserIDByMail(ctx, cid, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := f.store.GetUser(ctx, cid, aliceID)
	if alice.UserPrincipalName != "alice@example.org" || len(alice.Roles) != 0 ||
		!slices.Equal(alice.Identities, []storage.ObjectIdentity{{SignInType: "emailAddress", Issuer: "contoso", IssuerAssignedID: "alice@example.org"}}) {
		t.Errorf("alice = %+v", alice)
	}
	for _, id := range []string{adminID, aliceID} {
		if h, err := f.store.PasswordHash(ctx, cid, id); err != nil || !strings.HasPrefix(h, "$fake$") {
			t.Errorf("password hash of %s = %q, %v", id, h, err)
		}
	}

	// No secret is stored in clear.
	dump := f.dump()
	for _, s := range []string{testWebSecret, testAdminPassword, testAlicePassword} {
		if strings.Contains(dump, s) {
			t.Errorf("the store holds the secret %q in clear", s)
		}
	}
}

func TestApplyUpdates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil)
	rep := f.apply(t, mustParse(t, baseYAML, defaultSecrets()))
	cid := rep.TenantIDs["contoso"]
	adminID, _ := f.store.UserIDByUPN(ctx, cid, "admin@contoso.com")
	aliceID, _ := f.store.UserIDByMail(ctx, cid, "alice@example.org")

	// The users change what they may change.
	if _, err := f.store.UpdateUser(ctx, cid, aliceID, func(u *storage.User) error {
		u.City, u.DisplayName = "Lisbon", "Ali"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetPasswordHash(ctx, cid, aliceID, "$chosen-by-alice$"); err != nil {
		t.Fatal(err)
	}

	// The operator edits the file and rotates the web secret.
	const rotated = "rotated-web-secret-0123456789-abcdefghij"
	edited := strings.NewReplacer(
		"displayName: Contoso\n", "displayName: Contoso Ltd\n",
		"scopes: [openid, profile]\n", "scopes: [openid, profile, email]\n",
		"roles: [Global Administrator]", "roles: []",
		"passwordMinLength: 12", "passwordMinLength: 14",
	).Replace(baseYAML)
	secrets := testSecrets(
		map[string]string{"WEB_SECRET": rotated, "ADMIN_PASSWORD": "a different password now"},
		map[string]string{"/run/secrets/alice": "another-password-for-alice"},
	)
	hashes := f.hasher.count()
	rep = f.apply(t, mustParse(t, edited, secrets))
	// contoso's name and policy; contoso-web's scopes and secret; admin's
	// roles; alice's displayName (managed) but not her city or password.
	checkReport(t, rep, counts(0, 1, 1), counts(0, 0, 3), counts(0, 1, 2), counts(0, 2, 0))
	if f.hasher.count() != hashes {
		t.Errorf("existing passwords were re-hashed")
	}
	ct, _ := f.store.GetTenant(ctx, cid)
	if ct.DisplayName != "Contoso Ltd" || ct.PasswordMinLength != 14 {
		t.Errorf("tenant = %+v", ct)
	}
	web, _ := f.store.GetApp(ctx, cid, "contoso-web")
	if sum := sha256.Sum256([]byte(rotated)); !bytes.Equal(web.SecretHash, sum[:]) {
		t.Errorf("secret not rotated")
	}
	admin, _ := f.store.GetUser(ctx, cid, adminID)
	if len(admin.Roles) != 0 {
		t.Errorf("admin roles = %v, want none", admin.Roles)
	}
	alice, _ := f.store.GetUser(ctx, cid, aliceID)
	if alice.DisplayName != "Alice" || alice.City != "Lisbon" {
		t.Errorf("alice = %+v", alice)
	}
	if h, _ := f.store.PasswordHash(ctx, cid, aliceID); h != "$chosen-by-alice$" {
		t.Errorf("alice's own password was replaced: %q", h)
	}

	// And again: nothing.
	rep = f.apply(t, mustParse(t, edited, secrets))
	if rep.Changes() != 0 {
		t.Errorf("re-apply after update: %v", rep)
	}
}

func TestApplyResetPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil)
	rep := f.apply(t, mustParse(t, baseYAML, defaultSecrets()))
	cid := rep.TenantIDs["contoso"]
	aliceID, _ := f.store.UserIDByMail(ctx, cid, "alice@example.org")
	if err := f.store.SetPasswordHash(ctx, cid, aliceID, "$forgotten$"); err != nil {
		t.Fatal(err)
	}
	reset := strings.Replace(baseYAML, "passwordFile: /run/secrets/alice", "passwordFile: /run/secrets/alice\n        resetPassword: true", 1)
	for i := range 2 {
		rep = f.apply(t, mustParse(t, reset, defaultSecrets()))
		checkReport(t, rep, counts(0, 0, 2), counts(0, 0, 3), counts(0, 0, 3), counts(0, 1, 1))
		if h, _ := f.store.PasswordHash(ctx, cid, aliceID); !strings.HasPrefix(h, "$fake$") {
			t.Errorf("apply %d: password not reset: %q", i, h)
		}
	}
}

func TestApplySetsMissingPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil)
	noPw := strings.Replace(baseYAML, "        passwordFile: /run/secrets/alice\n", "", 1)
	rep := f.apply(t, mustParse(t, noPw, defaultSecrets()))
	cid := rep.TenantIDs["contoso"]
	aliceID, _ := f.store.UserIDByMail(ctx, cid, "alice@example.org")
	if _, err := f.store.PasswordHash(ctx, cid, aliceID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("alice has a password: %v", err)
	}
	rep = f.apply(t, mustParse(t, baseYAML, defaultSecrets()))
	checkReport(t, rep, counts(0, 0, 2), counts(0, 0, 3), counts(0, 0, 3), counts(0, 1, 1))
	if _, err := f.store.PasswordHash(ctx, cid, aliceID); err != nil {
		t.Errorf("password not set: %v", err)
	}
}

// TestApplyConflicts checks the problems found against the store, and that
// nothing is written when there are any.
func TestApplyConflicts(t *testing.T) {
	const otherID = "11111111-2222-4333-8444-555555555555"
	const contosoID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	ctx := context.Background()
	seed := func(t *testing.T, m *memStore) {
		t.Helper()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(m.CreateTenant(ctx, storage.Tenant{ID: otherID, Name: "other", Kind: storage.Workforce}))
		must(m.CreateTenant(ctx, storage.Tenant{ID: contosoID, Name: "contoso", Kind: storage.External}))
		must(m.AddDomain(ctx, otherID, "taken.com"))
		must(m.CreateApp(ctx, otherID, storage.App{ClientID: "taken-app", RedirectURIs: []string{"https://x.example/cb"}}))
		must(m.CreateUser(ctx, contosoID, storage.User{
			ID: "c0000000-0000-4000-8000-000000000001", UserPrincipalName: "c1@contoso.com", Mail: "customer@example.org",
			UserType: "Member", CreationType: "SelfServiceSignUp",
			Identities: []storage.ObjectIdentity{{SignInType: "emailAddress", Issuer: "contoso", IssuerAssignedID: "customer@example.org"}},
		}, ""))
		must(m.CreateUser(ctx, contosoID, storage.User{
			ID: "c0000000-0000-4000-8000-000000000002", UserPrincipalName: "bob@contoso.com", Mail: "bob@contoso.com", UserType: "Member",
		}, ""))
	}
	tests := []struct {
		name  string
		src   string
		check func(pw string, minLength int, email string) error
		want  []string
	}{{
		name: "store conflicts",
		src: `
tenants:
  - name: contoso
    kind: workforce
    domains: [taken.com]
    apps:
      - clientId: taken-app
        redirectUris: [https://a.example/cb]
        scopes: [openid]
    users:
      - userPrincipalName: bob@contoso.com
        mail: customer@example.org
  - name: other
    id: 99999999-2222-4333-8444-555555555555
    kind: workforce
  - name: renamed
    id: 11111111-2222-4333-8444-555555555555
    kind: workforce
`,
		want: []string{
			`foyer.yaml: tenants[0].kind: "workforce": tenant aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee is external; a tenant's kind cannot change`,
			`foyer.yaml: tenants[0].domains[0]: "taken.com": verified in another tenant (11111111-2222-4333-8444-555555555555)`,
			`foyer.yaml: tenants[0].apps[0].clientId: "taken-app": registered in another tenant (11111111-2222-4333-8444-555555555555)`,
			`foyer.yaml: tenants[0].users[0].mail: "customer@example.org": already used by user c0000000-0000-4000-8000-000000000001`,
			`foyer.yaml: tenants[1].name: "other": taken by tenant 11111111-2222-4333-8444-555555555555, not 99999999-2222-4333-8444-555555555555`,
			`foyer.yaml: tenants[2].id: "11111111-2222-4333-8444-555555555555": tenant exists with name "other"; a tenant's name cannot change`,
		},
	}, {
		name: "role for an external user",
		src: `
tenants:
  - name: contoso
    kind: external
    users:
      - mail: customer@example.org
        roles: [Global Administrator]
`,
		want: []string{
			`foyer.yaml: tenants[0].users[0].roles: user c0000000-0000-4000-8000-000000000001 (c1@contoso.com) is an external user: in an external tenant only internal users (with a userPrincipalName identity) may hold roles`,
		},
	}, {
		name: "password policy",
		src: `
tenants:
  - name: contoso
    kind: external
    passwordMinLength: 30
    users:
      - mail: new@contoso.com
        passwordEnv: ADMIN_PASSWORD
  - name: fabrikam
    kind: workforce
    users:
      - userPrincipalName: admin@fabrikam.com
        passwordEnv: ADMIN_PASSWORD
`,
		check: func(pw string, minLength int, email string) error {
			if email == "admin@fabrikam.com" && minLength == 15 {
				return errors.New("commonPassword")
			}
			return nil
		},
		want: []string{
			`foyer.yaml: tenants[0].users[0].passwordEnv: password is shorter than the tenant's minimum of 30 characters`,
			`foyer.yaml: tenants[1].users[0].passwordEnv: password refused by the password policy: commonPassword`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			seed(t, m)
			f := newFixture(t, m, m.dump)
			f.p.cfg.CheckPassword = tt.check
			writes := m.writeCount()
			_, err := f.p.Apply(ctx, mustParse(t, tt.src, defaultSecrets()))
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
			if m.writeCount() != writes || len(f.keys.tenants) != 0 || f.hasher.count() != 0 {
				t.Errorf("Apply wrote despite the problems")
			}
		})
	}
}

// TestApplyRace simulates another instance creating the tenant between our
// plan and our write.
func TestApplyRace(t *testing.T) {
	const theirs = "12345678-1234-4234-8234-123456789abc"
	ctx := context.Background()
	m := newMemStore()
	m.beforeCreateTenant = func(m *memStore) {
		if err := m.CreateTenant(ctx, storage.Tenant{ID: theirs, Name: "contoso", DisplayName: "Contoso", Kind: storage.External}); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t, m, m.dump)
	rep := f.apply(t, mustParse(t, baseYAML, defaultSecrets()))
	if rep.TenantIDs["contoso"] != theirs {
		t.Errorf("contoso = %s, want the winner's %s", rep.TenantIDs["contoso"], theirs)
	}
	if _, err := m.AppTenant(ctx, "contoso-web"); err != nil {
		t.Errorf("apps not created after the retry: %v", err)
	}
	if rep = f.apply(t, mustParse(t, baseYAML, defaultSecrets())); rep.Changes() != 0 {
		t.Errorf("not converged: %v", rep)
	}
}

// TestApplyValidatesCodeBuiltDocuments: a Document not from Parse is still
// checked, and its unresolved secrets are refused.
func TestApplyValidatesCodeBuiltDocuments(t *testing.T) {
	f := newFixture(t, nil, nil)
	d := &Document{Tenants: []Tenant{{Name: "x", Kind: "b2c", Apps: []App{{
		ClientID: "a", RedirectURIs: []string{"https://a.example/cb"}, Scopes: []string{"openid"}, ClientSecretEnv: "S",
	}}}}}
	_, err := f.p.Apply(context.Background(), d)
	want := `provisioning document: tenants[0].name: "x": must be 2 to 63 characters of a-z, 0-9 and -
provisioning document: tenants[0].kind: "b2c": must be external or workforce
provisioning document: tenants[0].apps[0]: client secret not loaded (use Parse or LoadFile)`
	if err == nil || err.Error() != want {
		t.Errorf("Apply = %v, want\n%s", err, want)
	}
}

func TestReportLog(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	r := Report{Tenants: counts(1, 0, 0), Domains: counts(1, 0, 0), Users: counts(0, 2, 3)}
	log.Info("provisioned", "report", r)
	want := "level=INFO msg=provisioned report.changes=4 report.tenants.created=1 report.tenants.updated=0 report.tenants.unchanged=0 " +
		"report.domains.created=1 report.domains.updated=0 report.domains.unchanged=0 report.apps.created=0 report.apps.updated=0 " +
		"report.apps.unchanged=0 report.users.created=0 report.users.updated=2 report.users.unchanged=3\n"
	if b.String() != want {
		t.Errorf("log line:\n%s\nwant\n%s", b.String(), want)
	}
}
