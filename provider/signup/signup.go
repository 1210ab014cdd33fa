package signup

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/email"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/sso"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// Store is what sign-up and reset read and write.
type Store interface {
	storage.Flows
	storage.Counters
	GetTenant(ctx context.Context, tenantID string) (storage.Tenant, error)
	CreateTenant(ctx context.Context, t storage.Tenant) error
	AddDomain(ctx context.Context, tenantID, domain string) error
	TenantIDByDomain(ctx context.Context, domain string) (string, error)
	GetApp(ctx context.Context, tenantID, clientID string) (storage.App, error)
	CreateUser(ctx context.Context, tenantID string, u storage.User, passwordHash string) error
	UserIDByMail(ctx context.Context, tenantID, mail string) (string, error)
	GetUser(ctx context.Context, tenantID, userID string) (storage.User, error)
	SetPasswordHash(ctx context.Context, tenantID, userID, hash string) error
	RevokeUserGrants(ctx context.Context, tenantID, userID, clientID string) (int, error)
	DeleteUserSessions(ctx context.Context, tenantID, userID string) error
}

// Mailer sends one message (provider/email).
type Mailer interface {
	Send(ctx context.Context, m email.Message) error
}

// Hasher hashes passwords (provider/password).
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
}

// KeyEnsurer creates a new tenant's signing keys (keys.Manager).
type KeyEnsurer interface {
	EnsureKeys(ctx context.Context, tenantID string) error
}

// Config configures a Service.
type Config struct {
	Store     Store
	Mail      Mailer
	Hasher    Hasher
	Keys      KeyEnsurer
	Templates *templates.Set
	Audit     *audit.Recorder
	URLs      tenancy.URLs
	// CodeKey is the HMAC key of stored codes (32 bytes, shared by replicas).
	CodeKey []byte
	Clock   func() time.Time

	CodeLifetime       time.Duration // default 10 min
	ResendAfter        time.Duration // default 60 s
	FlowLifetime       time.Duration // default 30 min
	MaxCodeAttempts    int           // wrong submissions per code, default 5
	MaxFlowAttempts    int           // wrong submissions per flow, default 10
	MaxCodesPerAddress int64         // codes per address per hour, default 5
	MaxStartsPerIP     int64         // flows and resends per IP per hour, default 30
	// BlockedDomains may not join or create a tenant by domain (consumer
	// mail providers). Default: a short list of the largest.
	BlockedDomains []string
}

// Service runs sign-up and password-reset flows.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.CodeLifetime, 10*time.Minute)
	def(&cfg.ResendAfter, time.Minute)
	def(&cfg.FlowLifetime, 30*time.Minute)
	if cfg.MaxCodeAttempts == 0 {
		cfg.MaxCodeAttempts = 5
	}
	if cfg.MaxFlowAttempts == 0 {
		cfg.MaxFlowAttempts = 10
	}
	if cfg.MaxCodesPerAddress == 0 {
		cfg.MaxCodesPerAddress = 5
	}
	if cfg.MaxStartsPerIP == 0 {
		cfg.MaxStartsPerIP = 30
	}
	if cfg.BlockedDomains == nil {
		cfg.BlockedDomains = []string{"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com",
			"msn.com", "yahoo.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "mail.com"}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Service{cfg: cfg}
}

// Paths of a flow.
const (
	PathApp  = "app"
	PathJoin = "join"
)

// Steps of a flow.
const (
	stepCode     = "code"
	stepProfile  = "profile"
	stepPassword = "password"
	stepDone     = "done"
)

// Data keys of storage.Flow.Data.
const (
	dataBinding = "binding"
	dataHome    = "home"
	dataApp     = "app"
	// dataUser is the ID of the account a sign-up flow creates, chosen
	// once, when the flow is advanced to create it: a completion repeated
	// after its answer was lost finds its own account.
	dataUser = "user"
	// dataDone is when a sign-up flow was advanced to create its account
	// (Unix seconds): for repeatWindow after it, the completion may be
	// submitted again (Complete).
	dataDone = "done"
)

// repeatWindow is how long after its account was created a sign-up flow
// may be completed again by its own browser, whose answer was lost (a
// 503 after the account was made, a dropped connection): the page then
// signs it in to that account instead of answering that the flow is gone.
const repeatWindow = 2 * time.Minute

// HaveAccount is the query parameter (value "1") of SignInURL: it asks the
// sign-in page for its form even when the authorization request asked for
// sign-up (prompt=create), for a person who already has an account.
const HaveAccount = "have_account"

// SignInURL is the sign-in page of the authorization request for a person
// who already has an account: where the "you already have an account" mail
// and the sign-up page's "I already have an account" link lead, so that
// DESIGN.md section 2's "sign in, no new identity" completes the original
// request.
func SignInURL(urls tenancy.URLs, tenantID, authRequestID string) string {
	return urls.TenantPath(tenantID, "/login?id="+url.QueryEscape(authRequestID)+"&"+HaveAccount+"=1")
}

// CodeLifetime is how long a code is valid.
func (s *Service) CodeLifetime() time.Duration { return s.cfg.CodeLifetime }

// refusal builds the fault of a refused sign-up: a stable reason code and a
// plain-language message.
func refusal(code, msg string) error { return fault.New(fault.Forbidden, code, msg) }

func errFlow() error {
	return fault.New(fault.NotFound, "flowExpired", "This sign-up page has expired or was already used. Start again from the application.")
}

// Start describes a new flow.
type Start struct {
	// TenantID is the issuer's tenant: the external tenant of an app flow,
	// or the common issuer's tenant of a domain join.
	TenantID      string
	Kind          string // storage.FlowSignUp or storage.FlowPasswordReset
	Path          string // PathApp or PathJoin
	ClientID      string
	AuthRequestID string
	Email         string
	IP            string
	// Binding ties the flow to the browser (a hash of its CSRF cookie).
	Binding string
}

// Begin starts a flow: it checks the rules that do not depend on whether
// the address has an account, applies the rate limits, and mails a code
// (or, to an existing account on sign-up, a "you already have an account"
// notice; for reset of an unknown address, nothing). The caller shows the
// same "enter the code" page in every case.
func (s *Service) Begin(ctx context.Context, in Start) (storage.Flow, error) {
	mail, err := account.NormalizeEmail(in.Email)
	if err != nil {
		return storage.Flow{}, err
	}
	ev := storage.AuditEvent{Category: audit.CategoryUserManagement, Target: account.Mask(mail),
		Properties: map[string]string{"path": in.Path, "clientId": in.ClientID, "kind": in.Kind}}
	ev.Activity = map[string]string{storage.FlowSignUp: "signUpAttempt", storage.FlowPasswordReset: "passwordResetAttempt"}[in.Kind]
	home, appName, err := s.decide(ctx, in, mail)
	if err != nil {
		s.refused(ctx, in.TenantID, ev, err)
		if home != "" && home != in.TenantID {
			s.refused(ctx, home, ev, err) // the home tenant's admins see refusals too
		}
		return storage.Flow{}, err
	}
	if err := s.limit(ctx, mail, in.IP); err != nil {
		s.refused(ctx, in.TenantID, ev, err)
		return storage.Flow{}, err
	}
	userID := ""
	if home != "" {
		userID, err = s.cfg.Store.UserIDByMail(ctx, home, mail)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Flow{}, err
		}
	}
	now := s.cfg.Clock()
	f := storage.Flow{
		ID: sso.NewSecret(), TenantID: in.TenantID, Kind: in.Kind, Path: in.Path,
		AuthRequestID: in.AuthRequestID, ClientID: in.ClientID, Email: mail, Step: stepCode,
		CodeIssuedAt: now, CodeExpiresAt: now.Add(s.cfg.CodeLifetime), CodesSent: 1, CreatedAt: now,
		Data: map[string]string{dataBinding: in.Binding, dataHome: home, dataApp: appName},
	}
	msg, code, err := s.message(f, userID)
	if err != nil {
		return storage.Flow{}, err
	}
	if code != "" {
		f.CodeHash = s.codeHash(f, code)
	}
	if err := s.cfg.Store.CreateFlow(ctx, in.TenantID, f, s.cfg.FlowLifetime); err != nil {
		return storage.Flow{}, err
	}
	if err := s.send(ctx, msg); err != nil {
		s.cfg.Store.DeleteFlow(context.WithoutCancel(ctx), in.TenantID, f.ID)
		return storage.Flow{}, err
	}
	ev.Result = audit.Success
	s.cfg.Audit.Record(ctx, in.TenantID, ev)
	if msg.To != "" {
		s.cfg.Audit.Record(ctx, in.TenantID, storage.AuditEvent{Category: audit.CategoryUserManagement,
			Activity: "codeSent", Result: audit.Success, Target: account.Mask(mail)})
	}
	return f, nil
}

func (s *Service) refused(ctx context.Context, tenantID string, ev storage.AuditEvent, err error) {
	e := fault.From(err)
	if e.Kind == fault.Unavailable || e.Kind == fault.Internal {
		return
	}
	ev.Result, ev.Reason = audit.Failure, e.Code
	s.cfg.Audit.Record(ctx, tenantID, ev)
}

// decide applies the rules of DESIGN.md section 2 that do not depend on the
// account's existence. It returns the home tenant ("" when a domain join
// would create one) and the app's name; on a refusal, the home tenant when
// one was found, so its admins can see the refusal.
func (s *Service) decide(ctx context.Context, in Start, mail string) (home, appName string, err error) {
	x, err := s.situation(ctx, in.Kind, in.Path, in.TenantID, in.ClientID, mail)
	if err != nil {
		return "", "", err
	}
	if err := s.refuse(x); err != nil {
		return x.tenant.ID, "", err
	}
	if in.Path == PathApp {
		return x.tenant.ID, x.app.DisplayName, nil
	}
	return x.tenant.ID, x.tenant.DisplayName, nil
}

// situation is what the decision table of DESIGN.md section 2 looks at.
type situation struct {
	kind, path string
	domain     string
	// tenant is the issuer's tenant on the app path, the home tenant (where
	// the domain is verified) on a join; zero when a join would create it.
	tenant storage.Tenant
	// app is the flow's app (app path only).
	app storage.App
	// known is set once the code has proven the address; exists then says
	// whether the address has an account in tenant, and accountID is its ID.
	known, exists bool
	accountID     string
}

// situation reads the facts of a flow of kind on path for mail: the app
// flow's tenant and app, or the join's home tenant when one has the
// domain verified.
func (s *Service) situation(ctx context.Context, kind, path, tenantID, clientID, mail string) (situation, error) {
	x := situation{kind: kind, path: path, domain: account.Domain(mail)}
	var err error
	switch path {
	case PathApp:
		if x.tenant, err = s.cfg.Store.GetTenant(ctx, tenantID); err != nil {
			return x, err
		}
		x.app, err = s.cfg.Store.GetApp(ctx, tenantID, clientID)
		return x, err
	case PathJoin:
		if slices.Contains(s.cfg.BlockedDomains, x.domain) {
			return x, nil // refused whatever the tenant
		}
		hid, err := s.cfg.Store.TenantIDByDomain(ctx, x.domain)
		if errors.Is(err, storage.ErrNotFound) {
			return x, nil
		}
		if err != nil {
			return x, err
		}
		x.tenant, err = s.cfg.Store.GetTenant(ctx, hid)
		return x, err
	}
	return x, fault.New(fault.Invalid, "invalidPath", "Unknown sign-up path.")
}

// known reads whether the address has an account in x's tenant, now that
// the code has proven it.
func (s *Service) known(ctx context.Context, x *situation, mail string) error {
	x.known = true
	if x.tenant.ID == "" {
		return nil // a tenant yet to be created has no accounts
	}
	id, err := s.cfg.Store.UserIDByMail(ctx, x.tenant.ID, mail)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	x.exists, x.accountID = err == nil, id
	return err
}

// refuse is the decision table of DESIGN.md section 2, the one place its
// refusals are decided: it returns the refusal of x, or nil to go on. When
// the flow starts only the rules that do not depend on the account's
// existence apply (x.known is false: the page reveals nothing); once the
// code has proven the address, and again when the account is created, all
// of them do.
func (s *Service) refuse(x situation) error {
	t := x.tenant
	if x.path == PathJoin {
		switch {
		case slices.Contains(s.cfg.BlockedDomains, x.domain):
			return refusal("domainNotAllowed", "Use your work email address: addresses at "+x.domain+" cannot join an organisation.")
		case t.ID == "":
			return nil // a new unmanaged workforce tenant, J=S=true; nobody to reset
		case t.Kind != storage.Workforce:
			return refusal("domainNotAllowed", "Addresses at "+x.domain+" belong to a customer directory and cannot join an organisation.")
		}
	}
	if x.kind == storage.FlowPasswordReset {
		if !t.Policy.AllowedToUseSSPR {
			return refusal("ssprDisabled", "Password reset is turned off for this organisation. Contact its administrator.")
		}
		return nil
	}
	switch {
	case !t.Policy.AllowedToSignUpEmailBasedSubscriptions:
		return refusal("signUpDisabled", "Self-service sign-up is turned off for this organisation.")
	case x.path == PathApp && (!x.app.SignUpEnabled || t.Kind != storage.External):
		return refusal("appSignUpDisabled", "This application does not let you create an account. Ask its owner for access.")
	case !x.known:
		return nil
	case x.exists:
		return accountExists()
	case x.path == PathJoin && !t.Policy.AllowEmailVerifiedUsersToJoinOrganization:
		return refusal("emailVerifiedJoinDisabled", "This organisation does not let people join by email verification. Ask its administrator for an account.")
	}
	return nil
}

func accountExists() error {
	return fault.New(fault.Conflict, "accountExists", "You already have an account with this email address. Sign in instead.")
}

// limit counts the code about to be sent, per address and per IP, before
// deciding (so parallel requests cannot slip past). The counters are
// global (kept in the common tenant), so an address cannot be mail-bombed
// through many tenants.
func (s *Service) limit(ctx context.Context, mail, ip string) error {
	n, err := s.cfg.Store.Hit(ctx, storage.CommonTenantID, "code:addr:"+digest(mail), time.Hour)
	if err != nil {
		return err
	}
	m, err := s.cfg.Store.Hit(ctx, storage.CommonTenantID, "code:ip:"+digest(ip), time.Hour)
	if err != nil {
		return err
	}
	if n > s.cfg.MaxCodesPerAddress || m > s.cfg.MaxStartsPerIP {
		e := fault.New(fault.TooMany, "tooManyCodes", "Too many codes were requested. Wait a while and try again.")
		e.RetryAfter = 15 * time.Minute
		return e
	}
	return nil
}

// message builds the mail of a flow: a code, or an account notice. It
// returns the code it put in the mail ("" for none) and a Message with an
// empty To when nothing is to be sent.
func (s *Service) message(f storage.Flow, userID string) (email.Message, string, error) {
	app := f.Data[dataApp]
	if app == "" {
		app = "your account"
	}
	minutes := int(s.cfg.CodeLifetime / time.Minute)
	switch {
	case f.Kind == storage.FlowSignUp && userID != "":
		signIn := SignInURL(s.cfg.URLs, f.TenantID, f.AuthRequestID)
		reset := s.cfg.URLs.TenantPath(f.TenantID, "/reset?id="+url.QueryEscape(f.AuthRequestID))
		m, err := s.cfg.Templates.AccountExists(templates.AccountExistsEmail{AppName: app, Email: f.Email, SignInURL: signIn, ForgotPasswordURL: reset})
		return email.Message{To: f.Email, Subject: m.Subject, Text: m.Text, HTML: m.HTML}, "", err
	case f.Kind == storage.FlowPasswordReset && userID == "":
		return email.Message{}, "", nil
	}
	code, err := newCode()
	if err != nil {
		return email.Message{}, "", err
	}
	var m templates.Email
	if f.Kind == storage.FlowPasswordReset {
		m, err = s.cfg.Templates.PasswordReset(templates.PasswordResetEmail{AppName: app, Code: code, MinutesValid: minutes})
	} else {
		m, err = s.cfg.Templates.VerificationCode(templates.VerificationCodeEmail{AppName: app, Code: code, MinutesValid: minutes})
	}
	return email.Message{To: f.Email, Subject: m.Subject, Text: m.Text, HTML: m.HTML}, code, err
}

func (s *Service) send(ctx context.Context, m email.Message) error {
	if m.To == "" {
		return nil
	}
	if err := s.cfg.Mail.Send(ctx, m); err != nil {
		if !errors.Is(err, email.ErrSend) {
			return err // a message we built badly: a bug, not an outage
		}
		e := fault.Wrap(err, fault.Unavailable, "mailFailed", "We could not send the email. Please try again in a moment.")
		e.RetryAfter = 30 * time.Second
		return e
	}
	return nil
}

// newCode returns 8 decimal digits from crypto/rand.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08d", n.Int64()), nil
}

// codeHash binds a code to its tenant, flow and address.
func (s *Service) codeHash(f storage.Flow, code string) string {
	m := hmac.New(sha256.New, s.cfg.CodeKey)
	for _, p := range []string{f.TenantID, f.ID, f.Email, code} {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// Flow returns the flow for a page of the browser bound to it.
func (s *Service) Flow(ctx context.Context, tenantID, id, binding string) (storage.Flow, error) {
	if id == "" || len(id) > 128 {
		return storage.Flow{}, errFlow()
	}
	f, err := s.cfg.Store.GetFlow(ctx, tenantID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Flow{}, errFlow()
	}
	if err != nil {
		return storage.Flow{}, err
	}
	if !hmac.Equal([]byte(f.Data[dataBinding]), []byte(binding)) {
		return storage.Flow{}, errFlow()
	}
	return f, nil
}

// Resend mails a new code for the flow f (as Flow returned it) after the
// cooldown; the flow's count of wrong submissions is kept.
func (s *Service) Resend(ctx context.Context, f storage.Flow, ip string) (storage.Flow, error) {
	tenantID, id := f.TenantID, f.ID
	if f.Step != stepCode {
		return storage.Flow{}, errFlow()
	}
	if f.FlowAttempts >= s.cfg.MaxFlowAttempts {
		return storage.Flow{}, fault.New(fault.Forbidden, "tooManyAttempts", "Too many wrong codes. Start again from the application.")
	}
	now := s.cfg.Clock()
	if wait := f.CodeIssuedAt.Add(s.cfg.ResendAfter).Sub(now); wait > 0 {
		e := fault.New(fault.TooMany, "resendTooSoon", "Wait a moment before asking for a new code.")
		e.RetryAfter = wait
		return storage.Flow{}, e
	}
	if err := s.limit(ctx, f.Email, ip); err != nil {
		return storage.Flow{}, err
	}
	var userID string
	if home := f.Data[dataHome]; home != "" {
		var err error
		userID, err = s.cfg.Store.UserIDByMail(ctx, home, f.Email)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Flow{}, err
		}
	}
	msg, code, err := s.message(f, userID)
	if err != nil {
		return storage.Flow{}, err
	}
	issued := f.CodeIssuedAt
	f, err = s.cfg.Store.UpdateFlow(ctx, tenantID, id, func(g *storage.Flow) error {
		if g.Step != stepCode || !g.CodeIssuedAt.Equal(issued) {
			return errFlow() // another resend or the verification won
		}
		g.CodeHash = ""
		if code != "" {
			g.CodeHash = s.codeHash(*g, code)
		}
		g.CodeIssuedAt, g.CodeExpiresAt = now, now.Add(s.cfg.CodeLifetime)
		g.CodeAttempts = 0 // per code; FlowAttempts is never reset
		g.CodesSent++
		return nil
	})
	if err != nil {
		return storage.Flow{}, err
	}
	if err := s.send(ctx, msg); err != nil {
		return storage.Flow{}, err
	}
	if msg.To != "" {
		s.cfg.Audit.Record(ctx, tenantID, storage.AuditEvent{Category: audit.CategoryUserManagement,
			Activity: "codeSent", Result: audit.Success, Target: account.Mask(f.Email), Properties: map[string]string{"resend": "true"}})
	}
	return f, nil
}

// Verify checks a code submitted for the flow f (as Flow returned it). The
// submission is counted before the comparison; a correct code advances the
// flow exactly once. Right after a correct code of a sign-up, the whole
// decision table applies (refuse): a refusal that depends on the account's
// existence (J=false) ends the flow here, before the page asks for a name
// and a password.
func (s *Service) Verify(ctx context.Context, f storage.Flow, code string) (storage.Flow, error) {
	tenantID, id := f.TenantID, f.ID
	tooMany := func() error {
		return fault.New(fault.TooMany, "tooManyAttempts", "Too many wrong codes. Ask for a new code, or start again.")
	}
	f, err := s.cfg.Store.UpdateFlow(ctx, tenantID, id, func(f *storage.Flow) error {
		switch {
		case f.Step != stepCode:
			return errFlow()
		case f.FlowAttempts >= s.cfg.MaxFlowAttempts:
			return fault.New(fault.Forbidden, "tooManyAttempts", "Too many wrong codes. Start again from the application.")
		case f.CodeAttempts >= s.cfg.MaxCodeAttempts:
			return tooMany()
		}
		f.CodeAttempts++
		f.FlowAttempts++
		return nil
	})
	if errors.Is(err, storage.ErrConflict) {
		return storage.Flow{}, tooMany() // lost to a burst of parallel submissions: not evaluated
	}
	if err != nil {
		return storage.Flow{}, err
	}
	code = strings.TrimSpace(code)
	fail := func(reason, msg string) (storage.Flow, error) {
		s.cfg.Audit.Record(ctx, tenantID, storage.AuditEvent{Category: audit.CategoryUserManagement,
			Activity: "codeFailed", Result: audit.Failure, Reason: reason, Target: account.Mask(f.Email)})
		return f, fault.New(fault.Invalid, reason, msg)
	}
	if s.cfg.Clock().After(f.CodeExpiresAt) {
		return fail("codeExpired", "This code has expired. Ask for a new one.")
	}
	if f.CodeHash == "" || len(code) != 8 || !hmac.Equal([]byte(s.codeHash(f, code)), []byte(f.CodeHash)) {
		left := min(s.cfg.MaxCodeAttempts-f.CodeAttempts, s.cfg.MaxFlowAttempts-f.FlowAttempts)
		return fail("wrongCode", fmt.Sprintf("That code is not right. You can try %d more time(s).", max(left, 0)))
	}
	next := stepPassword
	if f.Kind == storage.FlowSignUp {
		next = stepProfile
		// The address is proven: the whole table applies now, before the
		// code is consumed (a store error leaves it for another try).
		x, err := s.situation(ctx, f.Kind, f.Path, f.TenantID, f.ClientID, f.Email)
		if err == nil {
			err = s.known(ctx, &x, f.Email)
		}
		if err != nil {
			return storage.Flow{}, err
		}
		if err := s.refuse(x); err != nil {
			s.cfg.Store.DeleteFlow(context.WithoutCancel(ctx), tenantID, id)
			s.refusedAfterCode(ctx, f, x.tenant.ID, err)
			return storage.Flow{}, err
		}
	}
	hash := f.CodeHash
	f, err = s.cfg.Store.UpdateFlow(ctx, tenantID, id, func(g *storage.Flow) error {
		if g.Step != stepCode || g.CodeHash != hash {
			return errFlow() // a parallel submission of the same code won
		}
		g.Step = next
		g.CodeHash = "" // single use
		g.CodeAttempts--
		g.FlowAttempts-- // a right code is not a wrong submission
		return nil
	})
	if err != nil {
		return storage.Flow{}, err
	}
	s.cfg.Audit.Record(ctx, tenantID, storage.AuditEvent{Category: audit.CategoryUserManagement,
		Activity: "codeVerified", Result: audit.Success, Target: account.Mask(f.Email)})
	return f, nil
}

// refusedAfterCode records the refusal of a flow whose address is proven,
// in the issuer's tenant and in the home tenant.
func (s *Service) refusedAfterCode(ctx context.Context, f storage.Flow, home string, err error) {
	ev := storage.AuditEvent{Category: audit.CategoryUserManagement, Activity: "signUpRefused",
		Result: audit.Failure, Reason: fault.From(err).Code, Target: account.Mask(f.Email)}
	s.cfg.Audit.Record(ctx, f.TenantID, ev)
	if home != "" && home != f.TenantID {
		s.cfg.Audit.Record(ctx, home, ev)
	}
}

// advance moves the flow id from step from to step "done" exactly once.
func (s *Service) advance(ctx context.Context, tenantID, id, from string) (storage.Flow, error) {
	return s.cfg.Store.UpdateFlow(ctx, tenantID, id, func(f *storage.Flow) error {
		if f.Step != from {
			return errFlow()
		}
		f.Step = stepDone
		if f.Kind == storage.FlowSignUp {
			if f.Data == nil {
				f.Data = map[string]string{}
			}
			if f.Data[dataUser] == "" {
				f.Data[dataUser] = storage.NewID()
			}
			f.Data[dataDone] = strconv.FormatInt(s.cfg.Clock().Unix(), 10)
		}
		return nil
	})
}

// reopen puts a flow back at step from after a failure past advance, so
// the person can submit again.
func (s *Service) reopen(ctx context.Context, tenantID, id, from string) {
	s.cfg.Store.UpdateFlow(context.WithoutCancel(ctx), tenantID, id, func(f *storage.Flow) error {
		if f.Step != stepDone {
			return errFlow()
		}
		f.Step = from
		return nil
	})
}

// tenantPolicy is the tenant whose password policy applies (a tenant yet
// to be created gets the defaults).
func (s *Service) tenantPolicy(ctx context.Context, tenantID string) (storage.Tenant, error) {
	if tenantID == "" {
		return storage.Tenant{}, nil
	}
	return s.cfg.Store.GetTenant(ctx, tenantID)
}
