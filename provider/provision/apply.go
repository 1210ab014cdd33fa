package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/foyer-id/foyer/storage"
)

// Store is the part of storage.Store that provisioning reads and writes.
type Store interface {
	storage.Tenants
	storage.Domains
	storage.Apps
	storage.Users
}

// Hasher hashes a password for storage (provider/password's Hasher).
type Hasher interface {
	// Hash returns the encoded hash of pw, or the context's error.
	Hash(ctx context.Context, pw string) (string, error)
}

// KeyEnsurer makes sure a tenant has its signing keys.
type KeyEnsurer interface {
	// EnsureKeys creates the tenant's signing keys unless it has them; it
	// is called for every tenant of every applied document and must be
	// idempotent.
	EnsureKeys(ctx context.Context, tenantID string) error
}

// Config configures a Provisioner.
type Config struct {
	Store  Store      // required
	Hasher Hasher     // required
	Keys   KeyEnsurer // required
	// CheckPassword, when set, applies the password policy to every
	// password before it is set: minLength is the tenant's minimum, email
	// the user's mail (or UPN). Its error must not contain the password.
	CheckPassword func(password string, minLength int, email string) error
	Logger        *slog.Logger     // default slog.Default()
	Clock         func() time.Time // default time.Now
	NewID         func() string    // default storage.NewID
}

// Provisioner applies documents to a store.
type Provisioner struct {
	cfg Config
}

// New returns a Provisioner; Store, Hasher and Keys are required.
func New(cfg Config) (*Provisioner, error) {
	if cfg.Store == nil || cfg.Hasher == nil || cfg.Keys == nil {
		return nil, errors.New("provision: Config.Store, Hasher and Keys are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = storage.NewID
	}
	return &Provisioner{cfg: cfg}, nil
}

// defaultPasswordMinLength applies when a tenant sets none (DESIGN.md 6).
const defaultPasswordMinLength = 15

// maxAttempts bounds how often Apply plans again after losing a race to
// another instance applying at the same time.
const maxAttempts = 3

// Apply makes the store match d and reports what it changed. It first
// reads the store and checks everything (the document's own rules and its
// conflicts with the store: a domain or client ID held by another tenant,
// a tenant whose name or kind would change, a mail address taken, a role
// for an external user, a password against the tenant's policy); if
// anything is wrong it returns every problem, joined and matching
// ErrInvalid, before writing anything. Applying the same document again
// changes nothing.
//
// A failing write leaves what was written before it; applying again
// completes it. Apply is safe to run from several instances at once: when
// a write loses a race (storage.ErrExists) it plans again, and the report
// then covers the last attempt.
func (p *Provisioner) Apply(ctx context.Context, d *Document) (Report, error) {
	ps := &problems{source: d.source}
	d.validate(ps)
	if err := ps.err(); err != nil {
		return Report{}, err
	}
	for attempt := 1; ; attempt++ {
		pl, err := p.plan(ctx, d)
		if err != nil {
			return Report{}, err
		}
		rep, err := p.execute(ctx, d, pl)
		if errors.Is(err, storage.ErrExists) && attempt < maxAttempts {
			p.cfg.Logger.WarnContext(ctx, "provision: lost a race with another writer; planning again", "err", err)
			continue
		}
		return rep, err
	}
}

type tenantPlan struct {
	spec    *Tenant
	path    string
	id      string
	create  *storage.Tenant // set for a new tenant
	update  bool            // the existing tenant differs
	issuer  string          // issuer of the users' local identities
	domains []string        // to add
	kept    int             // domains already verified in the tenant
	apps    []appPlan
	users   []userPlan
}

type appPlan struct {
	spec   *App
	path   string
	create *storage.App
	update bool
}

type userPlan struct {
	spec        *User
	path        string
	create      *storage.User
	id          string // of the existing user
	update      bool
	setPassword bool
}

// plan reads the store and decides every write, or returns the problems.
func (p *Provisioner) plan(ctx context.Context, d *Document) ([]*tenantPlan, error) {
	st := p.cfg.Store
	ps := &problems{source: d.source}
	var plans []*tenantPlan
	for i := range d.Tenants {
		spec := &d.Tenants[i]
		tp := &tenantPlan{spec: spec, path: fmt.Sprintf("tenants[%d]", i), issuer: spec.Name}
		cur, ok, err := p.findTenant(ctx, ps, tp)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // its identity is in conflict; its contents would only add noise
		}
		minLen := defaultPasswordMinLength
		switch {
		case spec.PasswordMinLength != nil:
			minLen = *spec.PasswordMinLength
		case cur != nil && cur.PasswordMinLength > 0:
			minLen = cur.PasswordMinLength
		}
		if cur == nil {
			t := storage.Tenant{
				ID: tp.id, Name: spec.Name, DisplayName: spec.Name, Kind: spec.Kind,
				CreatedAt: p.cfg.Clock().UTC(), Policy: storage.DefaultPolicy(spec.Kind),
			}
			spec.applyTo(&t)
			tp.create = &t
		} else {
			if cur.Kind != spec.Kind {
				ps.add(tp.path+".kind", "%q: tenant %s is %s; a tenant's kind cannot change", spec.Kind, cur.ID, cur.Kind)
			}
			tp.update = spec.applyTo(cur)
		}

		for j, dom := range spec.Domains {
			owner, err := st.TenantIDByDomain(ctx, dom)
			switch {
			case err == nil && owner == tp.id:
				tp.kept++
			case err == nil:
				ps.add(fmt.Sprintf("%s.domains[%d]", tp.path, j), "%q: verified in another tenant (%s)", dom, owner)
			case errors.Is(err, storage.ErrNotFound):
				tp.domains = append(tp.domains, dom)
			default:
				return nil, err
			}
		}

		for j := range spec.Apps {
			ap, err := p.planApp(ctx, ps, tp, &spec.Apps[j], fmt.Sprintf("%s.apps[%d]", tp.path, j))
			if err != nil {
				return nil, err
			}
			tp.apps = append(tp.apps, ap)
		}
		for j := range spec.Users {
			up, err := p.planUser(ctx, ps, tp, cur != nil, minLen, &spec.Users[j], fmt.Sprintf("%s.users[%d]", tp.path, j))
			if err != nil {
				return nil, err
			}
			tp.users = append(tp.users, up)
		}
		plans = append(plans, tp)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return plans, nil
}

// findTenant finds the tenant spec describes, by ID when it has one and by
// name otherwise, and sets tp.id. It returns nil for a tenant to create,
// and ok=false when ID and name point at different tenants.
func (p *Provisioner) findTenant(ctx context.Context, ps *problems, tp *tenantPlan) (*storage.Tenant, bool, error) {
	st, spec := p.cfg.Store, tp.spec
	byName, err := st.TenantIDByName(ctx, spec.Name)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, false, err
	}
	if spec.ID == "" {
		if byName == "" {
			tp.id = p.cfg.NewID()
			return nil, true, nil
		}
		tp.id = byName
	} else {
		if byName != "" && byName != spec.ID {
			ps.add(tp.path+".name", "%q: taken by tenant %s, not %s", spec.Name, byName, spec.ID)
			return nil, false, nil
		}
		tp.id = spec.ID
	}
	t, err := st.GetTenant(ctx, tp.id)
	switch {
	case errors.Is(err, storage.ErrNotFound) && spec.ID != "":
		return nil, true, nil
	case err != nil:
		return nil, false, err
	case t.Name != spec.Name:
		ps.add(tp.path+".id", "%q: tenant exists with name %q; a tenant's name cannot change", spec.ID, t.Name)
		return nil, false, nil
	}
	return &t, true, nil
}

func (p *Provisioner) planApp(ctx context.Context, ps *problems, tp *tenantPlan, spec *App, path string) (appPlan, error) {
	st := p.cfg.Store
	ap := appPlan{spec: spec, path: path}
	owner, err := st.AppTenant(ctx, spec.ClientID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a := storage.App{ClientID: spec.ClientID, TenantID: tp.id, CreatedAt: p.cfg.Clock().UTC()}
		spec.applyTo(&a)
		ap.create = &a
	case err != nil:
		return ap, err
	case owner != tp.id:
		ps.add(path+".clientId", "%q: registered in another tenant (%s)", spec.ClientID, owner)
	default:
		a, err := st.GetApp(ctx, tp.id, spec.ClientID)
		if err != nil {
			return ap, err
		}
		ap.update = spec.applyTo(&a)
	}
	return ap, nil
}

func (p *Provisioner) planUser(ctx context.Context, ps *problems, tp *tenantPlan, tenantExists bool, minLen int, spec *User, path string) (userPlan, error) {
	st := p.cfg.Store
	up := userPlan{spec: spec, path: path}
	var cur *storage.User
	if tenantExists {
		id, err := st.UserIDByUPN(ctx, tp.id, spec.upn())
		if errors.Is(err, storage.ErrNotFound) && spec.Mail != "" {
			id, err = st.UserIDByMail(ctx, tp.id, spec.Mail)
		}
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return up, err
		default:
			u, err := st.GetUser(ctx, tp.id, id)
			if err != nil {
				return up, err
			}
			cur = &u
		}
	}

	if cur == nil {
		u := storage.User{
			ID:                p.cfg.NewID(),
			UserPrincipalName: spec.upn(),
			UserType:          "Member",
			AccountEnabled:    true,
			CreatedDateTime:   p.cfg.Clock().UTC(),
		}
		spec.applyTo(&u, tp.issuer)
		up.create = &u
		up.setPassword = spec.password != ""
	} else {
		up.id = cur.ID
		if tp.spec.Kind == storage.External && len(spec.Roles) > 0 && !hasIdentity(cur, "userPrincipalName") {
			ps.add(path+".roles", "user %s (%s) is an external user: in an external tenant only internal users (with a userPrincipalName identity) may hold roles", cur.ID, cur.UserPrincipalName)
		}
		if spec.Mail != "" && spec.Mail != cur.Mail {
			other, err := st.UserIDByMail(ctx, tp.id, spec.Mail)
			switch {
			case err == nil && other != cur.ID:
				ps.add(path+".mail", "%q: already used by user %s", spec.Mail, other)
			case err != nil && !errors.Is(err, storage.ErrNotFound):
				return up, err
			}
		}
		if spec.UserPrincipalName != "" && spec.UserPrincipalName != cur.UserPrincipalName {
			other, err := st.UserIDByUPN(ctx, tp.id, spec.UserPrincipalName)
			switch {
			case err == nil && other != cur.ID:
				ps.add(path+".userPrincipalName", "%q: already used by user %s", spec.UserPrincipalName, other)
			case err != nil && !errors.Is(err, storage.ErrNotFound):
				return up, err
			}
		}
		up.update = spec.applyTo(cur, tp.issuer)
		if spec.password != "" {
			if spec.ResetPassword {
				up.setPassword = true
			} else if _, err := st.PasswordHash(ctx, tp.id, cur.ID); errors.Is(err, storage.ErrNotFound) {
				up.setPassword = true // the user has no password yet
			} else if err != nil {
				return up, err
			}
		}
	}

	if up.setPassword {
		pp := path + ".password"
		switch {
		case spec.PasswordEnv != "":
			pp = path + ".passwordEnv"
		case spec.PasswordFile != "":
			pp = path + ".passwordFile"
		}
		if utf8.RuneCountInString(spec.password) < minLen {
			ps.add(pp, "password is shorter than the tenant's minimum of %d characters", minLen)
		} else if p.cfg.CheckPassword != nil {
			email := spec.Mail
			if email == "" {
				email = spec.upn()
			}
			if err := p.cfg.CheckPassword(spec.password, minLen, email); err != nil {
				ps.add(pp, "password refused by the password policy: %v", err)
			}
		}
	}
	return up, nil
}

// execute performs the writes of a plan.
func (p *Provisioner) execute(ctx context.Context, d *Document, plans []*tenantPlan) (Report, error) {
	st, log := p.cfg.Store, p.cfg.Logger
	rep := Report{TenantIDs: map[string]string{}}
	fail := func(path, what string, err error) (Report, error) {
		return rep, fmt.Errorf("%s: %s: %s: %w", d.sourceName(), path, what, err)
	}
	for _, tp := range plans {
		name := tp.spec.Name
		switch {
		case tp.create != nil:
			if err := st.CreateTenant(ctx, *tp.create); err != nil {
				return fail(tp.path, "create tenant", err)
			}
			rep.Tenants.Created++
			log.InfoContext(ctx, "provision: created tenant", "tenant", name, "tenantId", tp.id)
		case tp.update:
			if _, err := st.UpdateTenant(ctx, tp.id, func(t *storage.Tenant) error {
				tp.spec.applyTo(t)
				return nil
			}); err != nil {
				return fail(tp.path, "update tenant", err)
			}
			rep.Tenants.Updated++
			log.InfoContext(ctx, "provision: updated tenant", "tenant", name, "tenantId", tp.id)
		default:
			rep.Tenants.Unchanged++
		}
		rep.TenantIDs[name] = tp.id
		if err := p.cfg.Keys.EnsureKeys(ctx, tp.id); err != nil {
			return fail(tp.path, "ensure signing keys", err)
		}

		for _, dom := range tp.domains {
			if err := st.AddDomain(ctx, tp.id, dom); err != nil {
				return fail(tp.path, "add domain "+dom, err)
			}
			rep.Domains.Created++
			log.InfoContext(ctx, "provision: verified domain", "tenant", name, "domain", dom)
		}
		rep.Domains.Unchanged += tp.kept

		for _, ap := range tp.apps {
			switch {
			case ap.create != nil:
				if err := st.CreateApp(ctx, tp.id, *ap.create); err != nil {
					return fail(ap.path, "create app", err)
				}
				rep.Apps.Created++
				log.InfoContext(ctx, "provision: created app", "tenant", name, "clientId", ap.spec.ClientID, "confidential", ap.create.Confidential())
			case ap.update:
				if _, err := st.UpdateApp(ctx, tp.id, ap.spec.ClientID, func(a *storage.App) error {
					ap.spec.applyTo(a)
					return nil
				}); err != nil {
					return fail(ap.path, "update app", err)
				}
				rep.Apps.Updated++
				log.InfoContext(ctx, "provision: updated app", "tenant", name, "clientId", ap.spec.ClientID)
			default:
				rep.Apps.Unchanged++
			}
		}

		for _, up := range tp.users {
			hash := ""
			if up.setPassword {
				h, err := p.cfg.Hasher.Hash(ctx, up.spec.password)
				if err != nil {
					return fail(up.path, "hash password", err)
				}
				hash = h
			}
			switch {
			case up.create != nil:
				if err := st.CreateUser(ctx, tp.id, *up.create, hash); err != nil {
					return fail(up.path, "create user", err)
				}
				rep.Users.Created++
				log.InfoContext(ctx, "provision: created user", "tenant", name, "userId", up.create.ID,
					"userPrincipalName", up.create.UserPrincipalName, "password", hash != "")
				continue
			case up.update:
				if _, err := st.UpdateUser(ctx, tp.id, up.id, func(u *storage.User) error {
					up.spec.applyTo(u, tp.issuer)
					return nil
				}); err != nil {
					return fail(up.path, "update user", err)
				}
			}
			if up.setPassword {
				if err := st.SetPasswordHash(ctx, tp.id, up.id, hash); err != nil {
					return fail(up.path, "set password", err)
				}
				if up.spec.ResetPassword {
					log.WarnContext(ctx, "provision: password reset because resetPassword is set; remove it once the password is in place",
						"tenant", name, "userId", up.id)
				} else {
					log.InfoContext(ctx, "provision: set the password of a user who had none", "tenant", name, "userId", up.id)
				}
			}
			if up.update || up.setPassword {
				rep.Users.Updated++
				log.InfoContext(ctx, "provision: updated user", "tenant", name, "userId", up.id)
			} else {
				rep.Users.Unchanged++
			}
		}
	}
	return rep, nil
}

func (d *Document) sourceName() string {
	if d.source == "" {
		return "provisioning document"
	}
	return d.source
}

// applyTo sets what the document says about the tenant on t and reports
// whether that changed it. Unset fields are left as they are.
func (s *Tenant) applyTo(t *storage.Tenant) bool {
	var c changes
	if s.DisplayName != "" {
		c.str(&t.DisplayName, s.DisplayName)
	}
	if s.PasswordMinLength != nil && t.PasswordMinLength != *s.PasswordMinLength {
		t.PasswordMinLength = *s.PasswordMinLength
		c = true
	}
	if s.AccessTokenAlg != "" {
		c.str(&t.AccessTokenAlg, s.AccessTokenAlg)
	}
	if pol := s.AuthorizationPolicy; pol != nil {
		tp := &t.Policy
		c.flag(&tp.AllowEmailVerifiedUsersToJoinOrganization, pol.AllowEmailVerifiedUsersToJoinOrganization)
		c.flag(&tp.AllowedToSignUpEmailBasedSubscriptions, pol.AllowedToSignUpEmailBasedSubscriptions)
		c.flag(&tp.AllowedToUseSSPR, pol.AllowedToUseSSPR)
		if pol.AllowInvitesFrom != nil {
			c.str(&tp.AllowInvitesFrom, *pol.AllowInvitesFrom)
		}
		if r := pol.DefaultUserRolePermissions; r != nil {
			dp := &tp.DefaultUserRolePermissions
			c.flag(&dp.AllowedToCreateApps, r.AllowedToCreateApps)
			c.flag(&dp.AllowedToCreateTenants, r.AllowedToCreateTenants)
			c.flag(&dp.AllowedToReadOtherUsers, r.AllowedToReadOtherUsers)
			c.flag(&dp.AllowedToReadBitlockerKeysForOwnedDevice, r.AllowedToReadBitlockerKeysForOwnedDevice)
		}
	}
	return bool(c)
}

// applyTo sets every field the document manages on a and reports whether
// that changed it. The secret is stored only as its SHA-256.
func (s *App) applyTo(a *storage.App) bool {
	var c changes
	name := s.DisplayName
	if name == "" {
		name = s.ClientID
	}
	c.str(&a.DisplayName, name)
	if !s.keepSecret {
		var h []byte
		if s.secret != "" {
			sum := sha256.Sum256([]byte(s.secret))
			h = sum[:]
		}
		if !bytes.Equal(a.SecretHash, h) {
			a.SecretHash = h
			c = true
		}
	}
	c.strs(&a.RedirectURIs, s.RedirectURIs)
	c.strs(&a.PostLogoutRedirectURIs, s.PostLogoutRedirectURIs)
	c.strs(&a.AllowedScopes, s.Scopes)
	c.boolean(&a.SignUpEnabled, s.SignUpEnabled)
	c.strs(&a.SignUpAttributes, s.SignUpAttributes)
	c.boolean(&a.MultiTenant, s.MultiTenant)
	c.boolean(&a.PreConsented, s.PreConsented)
	c.str(&a.IDTokenSigningAlg, s.IDTokenSigningAlg)
	return bool(c)
}

// applyTo sets what the document says about the user on u and reports
// whether that changed it. Empty fields and nil Roles are left as they are.
// A user with mail gets an emailAddress identity; a user with roles, or
// without mail, gets a userPrincipalName identity (an internal user).
func (s *User) applyTo(u *storage.User, issuer string) bool {
	var c changes
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&u.DisplayName, s.DisplayName}, {&u.GivenName, s.GivenName}, {&u.Surname, s.Surname},
		{&u.Mail, s.Mail}, {&u.UserPrincipalName, s.UserPrincipalName},
	} {
		if f.v != "" {
			c.str(f.dst, f.v)
		}
	}
	if s.Roles != nil {
		c.strs(&u.Roles, s.Roles)
	}
	if s.Mail != "" {
		c.identity(&u.Identities, "emailAddress", issuer, u.Mail)
	}
	if len(u.Roles) > 0 || u.Mail == "" {
		c.identity(&u.Identities, "userPrincipalName", issuer, u.UserPrincipalName)
	}
	return bool(c)
}

func hasIdentity(u *storage.User, signInType string) bool {
	return slices.ContainsFunc(u.Identities, func(id storage.ObjectIdentity) bool { return id.SignInType == signInType })
}

// changes records whether any setter changed its destination. Setters
// replace slices rather than modify them, so a value copied before is never
// changed through shared memory.
type changes bool

func (c *changes) str(dst *string, v string) {
	if *dst != v {
		*dst, *c = v, true
	}
}

func (c *changes) boolean(dst *bool, v bool) {
	if *dst != v {
		*dst, *c = v, true
	}
}

func (c *changes) flag(dst *bool, v *bool) {
	if v != nil {
		c.boolean(dst, *v)
	}
}

func (c *changes) strs(dst *[]string, v []string) {
	if !slices.Equal(*dst, v) {
		var n []string
		if len(v) > 0 {
			n = slices.Clone(v)
		}
		*dst, *c = n, true
	}
}

// identity makes sure *ids has an identity of signInType with assigned as
// its issuerAssignedId, adding one with issuer if there is none. An
// existing identity of that type keeps its issuer.
func (c *changes) identity(ids *[]storage.ObjectIdentity, signInType, issuer, assigned string) {
	for i, id := range *ids {
		if id.SignInType != signInType {
			continue
		}
		if id.IssuerAssignedID != assigned {
			n := slices.Clone(*ids)
			n[i].IssuerAssignedID = assigned
			*ids, *c = n, true
		}
		return
	}
	n := slices.Clone(*ids)
	*ids = append(n, storage.ObjectIdentity{SignInType: signInType, Issuer: issuer, IssuerAssignedID: assigned})
	*c = true
}
