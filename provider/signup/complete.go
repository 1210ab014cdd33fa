package signup

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// Profile is what the last sign-up page collects.
type Profile struct {
	Password    string
	DisplayName string
	GivenName   string
	Surname     string
	// Extra holds the app's SignUpAttributes, by Graph property name.
	Extra map[string]string
}

// Result is the account a flow created or reset, and the tenant it lives in.
type Result struct {
	User         storage.User
	HomeTenantID string
	// CreatedTenant is set when a domain join created an unmanaged tenant.
	CreatedTenant bool
	// earlier is set when an earlier attempt of the flow created User:
	// its creation is already audited.
	earlier bool
}

func attr(name, v string, maxLen int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" && required {
		return "", fault.New(fault.Invalid, "missingAttribute", "Enter your "+name+".")
	}
	if utf8.RuneCountInString(v) > maxLen || strings.ContainsFunc(v, unicode.IsControl) || !utf8.ValidString(v) {
		return "", fault.New(fault.Invalid, "invalidAttribute", "Your "+name+" is too long or contains characters that are not allowed.")
	}
	return v, nil
}

// Complete creates the account of the sign-up flow f (as Flow returned
// it) whose code was verified. It runs once per flow: parallel submissions
// create one account. Submitted again within repeatWindow of the creation
// (the first answer was lost), it returns that account.
func (s *Service) Complete(ctx context.Context, f storage.Flow, p Profile) (Result, error) {
	if f.Kind == storage.FlowSignUp && f.Step == stepDone {
		res, err := s.repeated(ctx, f)
		if !errors.Is(err, errUnfinished) {
			return res, err
		}
		// The first attempt stopped before the account and could not
		// reopen the flow (the store failed): this one goes on.
		if f, err = s.cfg.Store.UpdateFlow(ctx, f.TenantID, f.ID, func(g *storage.Flow) error {
			if g.Step != stepDone {
				return errFlow()
			}
			g.Step = stepProfile
			return nil
		}); err != nil {
			return Result{}, err
		}
	}
	if f.Step != stepProfile || f.Kind != storage.FlowSignUp {
		return Result{}, errFlow()
	}
	var u storage.User
	var err error
	if u.DisplayName, err = attr("display name", p.DisplayName, 256, true); err != nil {
		return Result{}, err
	}
	if u.GivenName, err = attr("given name", p.GivenName, 64, true); err != nil {
		return Result{}, err
	}
	if u.Surname, err = attr("surname", p.Surname, 64, true); err != nil {
		return Result{}, err
	}
	x, err := s.situation(ctx, f.Kind, f.Path, f.TenantID, f.ClientID, f.Email)
	if err != nil {
		return Result{}, err
	}
	if err := extraAttributes(appAttributes(f, x.app), p.Extra, &u); err != nil {
		return Result{}, err
	}
	// The password policy is the home tenant's (a tenant yet to be created
	// has the defaults).
	if err := account.CheckNewPassword(x.tenant, p.Password, f.Email); err != nil {
		return Result{}, err
	}
	if f, err = s.advance(ctx, f.TenantID, f.ID, stepProfile); err != nil {
		return Result{}, err
	}
	res, err := s.create(ctx, f, x, u, p.Password)
	if err != nil {
		if k := fault.From(err).Kind; k == fault.Unavailable || k == fault.Internal {
			s.reopen(ctx, f.TenantID, f.ID, stepProfile)
		}
		s.refusedAfterCode(ctx, f, res.HomeTenantID, err)
		return Result{}, err
	}
	// The flow stays, done, until it expires: its browser may submit it
	// again within repeatWindow if this answer is lost (repeated).
	if res.earlier {
		return res, nil
	}
	ev := storage.AuditEvent{Category: audit.CategoryUserManagement, Activity: "userCreated", Result: audit.Success,
		Target: res.User.ID, Properties: map[string]string{"creationType": res.User.CreationType, "path": f.Path, "clientId": f.ClientID}}
	s.cfg.Audit.Record(ctx, f.TenantID, ev)
	if f.TenantID != res.HomeTenantID {
		s.cfg.Audit.Record(ctx, res.HomeTenantID, ev)
	}
	return res, nil
}

// Attributes returns the extra profile properties the flow's app asks for
// (none on the domain-join path).
func (s *Service) Attributes(ctx context.Context, f storage.Flow) ([]account.ProfileField, error) {
	if f.Path != PathApp || f.Kind != storage.FlowSignUp {
		return nil, nil
	}
	app, err := s.cfg.Store.GetApp(ctx, f.TenantID, f.ClientID)
	if err != nil {
		return nil, err
	}
	return appAttributes(f, app), nil
}

// appAttributes are the extra profile properties app asks for in flow f.
func appAttributes(f storage.Flow, app storage.App) []account.ProfileField {
	if f.Path != PathApp || f.Kind != storage.FlowSignUp {
		return nil
	}
	var out []account.ProfileField
	for _, name := range app.SignUpAttributes {
		if pf, ok := account.SelfUpdatableField(name); ok {
			out = append(out, pf)
		}
	}
	return out
}

// extraAttributes checks the app's required attributes (each must be
// given and valid by the profile rules) and sets them on u.
func extraAttributes(fields []account.ProfileField, extra map[string]string, u *storage.User) error {
	for _, pf := range fields {
		v, problem := pf.Check(strings.TrimSpace(extra[pf.Name]))
		if problem == "" && v == "" {
			problem = "is required"
		}
		if problem != "" {
			return fault.New(fault.Invalid, "invalidAttribute", pf.Label+" "+problem+".")
		}
		*account.ProfileValue(u, pf.Name) = v
	}
	return nil
}

// create applies the decision table once more, now that the address is
// proven and with the state at the moment of creation (a switch turned
// off mid-flow holds), and creates the account. x is the flow's situation
// read before; a join finds (or creates) its home tenant here.
func (s *Service) create(ctx context.Context, f storage.Flow, x situation, u storage.User, pw string) (Result, error) {
	u.CreationType = "SelfServiceSignUp"
	created := false
	if f.Path == PathJoin {
		u.CreationType = "EmailVerified"
		var err error
		if x.tenant, created, err = s.homeForJoin(ctx, x); err != nil {
			return Result{}, err
		}
	}
	res := Result{HomeTenantID: x.tenant.ID, CreatedTenant: created}
	if err := s.known(ctx, &x, f.Email); err != nil {
		return res, err
	}
	// The flow's account ID: an account under it at the address is this
	// flow's own, created by an attempt whose answer was lost.
	uid := cmp.Or(f.Data[dataUser], storage.NewID())
	if x.exists && x.accountID == uid {
		return s.created(ctx, res, x.tenant.ID, uid)
	}
	if err := s.refuse(x); err != nil {
		return res, err
	}
	t := x.tenant
	hash, err := s.cfg.Hasher.Hash(ctx, pw)
	if err != nil {
		return Result{}, err
	}
	u.ID = uid
	u.Mail, u.UserPrincipalName = f.Email, f.Email
	u.UserType = "Member"
	u.AccountEnabled = true
	u.CreatedDateTime = s.cfg.Clock().UTC()
	u.Identities = []storage.ObjectIdentity{{SignInType: "emailAddress", Issuer: t.Name, IssuerAssignedID: f.Email}}
	if err := s.cfg.Store.CreateUser(ctx, t.ID, u, hash); err != nil {
		if errors.Is(err, storage.ErrExists) {
			if id, _ := s.cfg.Store.UserIDByMail(ctx, t.ID, f.Email); id == uid {
				return s.created(ctx, res, t.ID, uid)
			}
			return Result{}, accountExists()
		}
		return Result{}, err
	}
	res.User = u
	return res, nil
}

// errUnfinished says that a done flow's account does not exist: its
// completion stopped before creating it.
var errUnfinished = errors.New("signup: the flow's account was not created")

// repeated answers a completion submitted again: the account the flow
// created, when it did so within repeatWindow (errUnfinished if it was not
// created); otherwise the flow is over.
func (s *Service) repeated(ctx context.Context, f storage.Flow) (Result, error) {
	done, err := strconv.ParseInt(f.Data[dataDone], 10, 64)
	if err != nil || f.Data[dataUser] == "" || s.cfg.Clock().Sub(time.Unix(done, 0)) > repeatWindow {
		return Result{}, errFlow()
	}
	x, err := s.situation(ctx, f.Kind, f.Path, f.TenantID, f.ClientID, f.Email)
	if err != nil {
		return Result{}, err
	}
	if x.tenant.ID == "" { // a join whose tenant was never created
		return Result{}, errFlow()
	}
	res, err := s.created(ctx, Result{HomeTenantID: x.tenant.ID}, x.tenant.ID, f.Data[dataUser])
	if errors.Is(err, storage.ErrNotFound) {
		return Result{}, errUnfinished
	}
	if err == nil && res.User.Mail != f.Email {
		return Result{}, errFlow()
	}
	return res, err
}

// created returns the account an earlier attempt of the flow created.
func (s *Service) created(ctx context.Context, res Result, tenantID, userID string) (Result, error) {
	u, err := s.cfg.Store.GetUser(ctx, tenantID, userID)
	if err != nil {
		return Result{}, err
	}
	res.User, res.earlier = u, true
	return res, nil
}

// homeForJoin returns the join's home tenant: x's, where the address's
// domain is verified, or, for a domain no tenant has verified, a new
// unmanaged workforce tenant (no Global Administrator). The new tenant's
// ID is derived from the domain, so parallel sign-ups for one new domain
// create one tenant. created reports whether this call created it.
func (s *Service) homeForJoin(ctx context.Context, x situation) (storage.Tenant, bool, error) {
	d := x.domain
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 { // another tenant verified the domain meanwhile?
			hid, err := s.cfg.Store.TenantIDByDomain(ctx, d)
			if err == nil {
				h, err := s.cfg.Store.GetTenant(ctx, hid)
				return h, false, err
			}
			if !errors.Is(err, storage.ErrNotFound) {
				return storage.Tenant{}, false, err
			}
		} else if x.tenant.ID != "" {
			return x.tenant, false, nil
		}
		t := storage.Tenant{
			ID: unmanagedID(d), Name: tenantName(d), DisplayName: d, Kind: storage.Workforce,
			CreatedAt: s.cfg.Clock().UTC(), Policy: storage.DefaultPolicy(storage.Workforce),
		}
		created, err := s.createOnce(ctx, t)
		if err != nil {
			return storage.Tenant{}, false, err
		}
		if err := s.cfg.Store.AddDomain(ctx, t.ID, d); errors.Is(err, storage.ErrExists) {
			continue // another tenant verified the domain meanwhile: join that one
		} else if err != nil {
			return storage.Tenant{}, false, err
		}
		if err := s.cfg.Keys.EnsureKeys(ctx, t.ID); err != nil {
			return storage.Tenant{}, false, err
		}
		if created {
			s.cfg.Audit.Record(ctx, t.ID, storage.AuditEvent{Category: audit.CategoryUserManagement, Activity: "tenantCreated",
				Result: audit.Success, Target: t.ID, Properties: map[string]string{"domain": d, "managed": "false"}})
		}
		// Read back: a parallel sign-up may have created it, under a name
		// of createOnce's choosing.
		t, err = s.cfg.Store.GetTenant(ctx, t.ID)
		return t, created, err
	}
	return storage.Tenant{}, false, fault.New(fault.Conflict, "conflict", "Please try again.")
}

// createOnce creates t unless a parallel sign-up already did (same ID); a
// name taken by an unrelated tenant gets the ID's first 8 digits appended.
func (s *Service) createOnce(ctx context.Context, t storage.Tenant) (bool, error) {
	for _, name := range []string{t.Name, t.Name + "-" + t.ID[:8]} {
		t.Name = name
		err := s.cfg.Store.CreateTenant(ctx, t)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, storage.ErrExists) {
			return false, err
		}
		if _, gerr := s.cfg.Store.GetTenant(ctx, t.ID); gerr == nil {
			return false, nil // a parallel sign-up created it
		} else if !errors.Is(gerr, storage.ErrNotFound) {
			return false, gerr
		}
	}
	return false, fault.New(fault.Conflict, "conflict", "Please try again.")
}

// unmanagedID is the ID of the unmanaged tenant of a domain: a GUID made
// from SHA-256 of the domain (shaped like RFC 9562 version 8).
func unmanagedID(domain string) string {
	h := sha256.Sum256([]byte("foyer unmanaged tenant\x00" + domain))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// tenantName derives a slug from a domain: "contoso.com" -> "contoso-com".
func tenantName(domain string) string {
	var b strings.Builder
	for _, r := range domain {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if len(n) > 50 {
		n = n[:50]
	}
	if len(n) < 2 {
		n = "tenant-" + n
	}
	return n
}

// CompleteReset sets a new password for the account of the reset flow f
// (as Flow returned it) whose code was verified, and ends the account's
// sessions and refresh tokens.
func (s *Service) CompleteReset(ctx context.Context, f storage.Flow, newPassword string) (Result, error) {
	tenantID, id := f.TenantID, f.ID
	if f.Step != stepPassword || f.Kind != storage.FlowPasswordReset {
		return Result{}, errFlow()
	}
	home := f.Data[dataHome]
	pt, err := s.tenantPolicy(ctx, home)
	if err != nil {
		return Result{}, err
	}
	if err := account.CheckNewPassword(pt, newPassword, f.Email); err != nil {
		return Result{}, err
	}
	if f, err = s.advance(ctx, tenantID, id, stepPassword); err != nil {
		return Result{}, err
	}
	uid, err := s.cfg.Store.UserIDByMail(ctx, home, f.Email)
	if err != nil {
		s.reopen(ctx, tenantID, id, stepPassword)
		return Result{}, err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, newPassword)
	if err == nil {
		err = s.cfg.Store.SetPasswordHash(ctx, home, uid, hash)
	}
	// The user's tokens and sessions live in the home tenant and, for
	// sign-ins through the common issuer, in the common tenant.
	for _, tid := range []string{home, storage.CommonTenantID} {
		if err == nil {
			_, err = s.cfg.Store.RevokeUserGrants(ctx, tid, uid, "")
		}
		if err == nil {
			err = s.cfg.Store.DeleteUserSessions(ctx, tid, uid)
		}
	}
	if err != nil {
		s.reopen(ctx, tenantID, id, stepPassword)
		return Result{}, err
	}
	u, err := s.cfg.Store.GetUser(ctx, home, uid)
	if err != nil {
		return Result{}, err
	}
	s.cfg.Store.DeleteFlow(context.WithoutCancel(ctx), tenantID, id)
	s.cfg.Audit.Record(ctx, home, storage.AuditEvent{Category: audit.CategoryUserManagement, Activity: "passwordReset",
		Result: audit.Success, Actor: uid, Target: uid})
	return Result{User: u, HomeTenantID: home}, nil
}
