package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/keys"
	"github.com/foyer-id/foyer/provider"
	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/audit"
	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/provider/email"
	"github.com/foyer-id/foyer/provider/graph"
	"github.com/foyer-id/foyer/provider/oidcop"
	"github.com/foyer-id/foyer/provider/password"
	"github.com/foyer-id/foyer/provider/policy"
	"github.com/foyer-id/foyer/provider/provision"
	"github.com/foyer-id/foyer/provider/signup"
	"github.com/foyer-id/foyer/provider/sso"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/provider/web"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/storage/redisstore"
	"github.com/foyer-id/foyer/templates"
)

// app is a wired Foyer: the handler and what must be closed with it.
type app struct {
	handler http.Handler
	store   *redisstore.Store
	keys    *keys.Manager
	// stopRedis stops the embedded Redis (nil with an external one); tests
	// use it to take the store away under a running server.
	stopRedis func()
	// mailbox holds the last messages sent (--dev, and tests).
	mailbox *email.Mailbox
	closers []func() error
}

func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}

// openStore connects to Redis, or starts the embedded server when no URL
// is configured.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (*redisstore.Store, func(), []func() error, error) {
	var client redis.UniversalClient
	var closers []func() error
	var stop func()
	if cfg.RedisURL == "" {
		e, err := redisstore.NewEmbedded()
		if err != nil {
			return nil, nil, nil, err
		}
		log.Warn("no --redis-url: using an embedded in-process Redis; ALL STATE IS LOST ON EXIT")
		client, stop = e.Client, e.Server.Close
		closers = append(closers, e.Close)
	} else {
		c, err := redisstore.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, nil, nil, err
		}
		client = c
		closers = append(closers, client.Close)
	}
	return redisstore.New(client, redisstore.Config{}), stop, closers, nil
}

// openKeys builds the key manager over the store with the configured KEK
// (generated, with a warning, in --dev).
func openKeys(cfg Config, store *redisstore.Store, log *slog.Logger) (*keys.Manager, error) {
	kek := cfg.KEK
	if len(kek) == 0 {
		if !cfg.Dev {
			return nil, errors.New("FOYER_KEK or FOYER_KEK_FILE is required outside --dev")
		}
		kek = keys.GenerateKEK()
		log.Warn("--dev: generated a throwaway key-encryption key; signing keys stored now cannot be read by another run")
	}
	return keys.New(store, keys.Config{KEK: kek, Logger: log, TokenMaxLifetime: tokenMaxLifetime})
}

// newApp wires every package by hand: store, keys, accounts, protocol,
// pages, and the route table.
func newApp(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) (*app, error) {
	store, stop, closers, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a := &app{store: store, stopRedis: stop, closers: closers}
	fail := func(err error) (*app, error) { a.Close(); return nil, err }

	a.keys, err = openKeys(cfg, store, log)
	if err != nil {
		return fail(err)
	}
	hasher, err := password.New(password.Config{})
	if err != nil {
		return fail(err)
	}
	if err := provisionAll(ctx, cfg, store, a.keys, hasher, log, out); err != nil {
		return fail(err)
	}
	tpl, err := templates.New(templates.WithStaticURL(cfg.PublicURL + "/static"))
	if err != nil {
		return fail(err)
	}
	kek := cfg.KEK
	if len(kek) == 0 {
		kek = keys.GenerateKEK() // dev: the CSRF key lives as long as the process
	}
	csrfKey, err := hkdf.Key(sha256.New, kek, nil, "foyer csrf v1", 32)
	if err != nil {
		return fail(err)
	}
	codeKey, err := hkdf.Key(sha256.New, kek, nil, "foyer email code v1", 32)
	if err != nil {
		return fail(err)
	}
	deviceKey, err := hkdf.Key(sha256.New, kek, nil, "foyer device v1", 32)
	if err != nil {
		return fail(err)
	}
	if err := ensureCommon(ctx, store, a.keys); err != nil {
		return fail(err)
	}
	mailer, mailbox, err := newMailer(cfg, log)
	if err != nil {
		return fail(err)
	}
	a.mailbox = mailbox
	recorder := audit.New(audit.Config{Store: store, Logger: log, RequestID: provider.RequestID})

	urls := tenancy.URLs{Base: cfg.PublicURL}
	insecure := cfg.Dev && isHTTPLocalhost(cfg.PublicURL)
	cookies := sso.New(sso.Config{Insecure: insecure})
	tokens := bearer.New(bearer.Config{
		Keys: a.keys, Revocations: store, Issuer: urls.Issuer, Audience: urls.GraphResource(),
	})
	protocol, err := oidcop.New(oidcop.Config{
		URLs: urls, Store: store, Keys: a.keys, Tokens: tokens, Cookies: cookies, Logger: log,
		AllowInsecure: isHTTP(cfg.PublicURL), JWKSMaxAge: a.keys.JWKSMaxAge(),
		Templates: tpl, RequestID: provider.RequestID,
	})
	if err != nil {
		return fail(err)
	}
	signups := signup.New(signup.Config{
		Store: store, Mail: mailer, Hasher: hasher, Keys: a.keys, Templates: tpl, Audit: recorder,
		URLs: urls, CodeKey: codeKey, Clock: cfg.clock, MaxStartsPerIP: cfg.maxStartsPerIP, MaxCodesPerAddress: cfg.maxCodesPerAddress,
	})
	passwords := account.NewPasswords(account.PasswordsConfig{Store: store, Hasher: hasher, Audit: recorder, FirstLock: cfg.signInFirstLock})
	accounts := account.New(account.Config{Store: store, Hasher: hasher, DeviceKey: deviceKey, Audit: recorder, Clock: cfg.clock,
		FirstLock: cfg.signInFirstLock})
	pages := web.New(web.Config{
		URLs: urls, Store: store, Protocol: protocol, Templates: tpl, Cookies: cookies, SignUp: signups,
		Accounts: accounts, Passwords: passwords,
		CSRFKey: csrfKey, Insecure: insecure, Logger: log,
	})
	a.handler = provider.New(provider.Config{
		Resolver:        tenancy.NewResolver(store, tenancy.Config{}),
		Store:           store,
		Protocol:        protocol,
		HandlesProtocol: oidcop.Handles,
		Pages:           pages,
		HandlesPages:    web.Handles,
		PageError:       pages.Fail,
		BrowserPath:     func(rel string) bool { return web.Handles(rel) || oidcop.BrowserPath(rel) },
		DevMailbox:      devMailbox(cfg, mailbox),
		Graph: graph.New(graph.Config{
			URLs: urls, Store: store, Tenants: tenancy.NewResolver(store, tenancy.Config{}), Tokens: tokens,
			Passwords: passwords,
			Hasher:    hasher, Policies: policy.New(store, recorder), Audit: recorder, RequestID: provider.RequestID, Logger: log,
		}),
		Logger:         log,
		RequestTimeout: cfg.RequestTimeout,
	})
	return a, nil
}

// provisionAll applies --dev's document and the --config file.
func provisionAll(ctx context.Context, cfg Config, store *redisstore.Store, km *keys.Manager, hasher *password.Hasher, log *slog.Logger, out io.Writer) error {
	p, err := provision.New(provision.Config{Store: store, Hasher: hasher, Keys: km, Logger: log,
		CheckPassword: func(pw string, minLength int, email string) error {
			return password.Policy{MinLength: minLength}.Check(pw, email)
		}})
	if err != nil {
		return err
	}
	if cfg.Dev {
		doc, creds, err := provision.Dev(ctx, store)
		if err != nil {
			return err
		}
		rep, err := p.Apply(ctx, doc)
		if err != nil {
			return err
		}
		log.Info("dev tenant provisioned", "report", rep.String())
		printDevCredentials(out, cfg.PublicURL, creds)
	}
	if cfg.ConfigFile != "" {
		doc, err := provision.LoadFile(cfg.ConfigFile)
		if err != nil {
			return err
		}
		rep, err := p.Apply(ctx, doc)
		if err != nil {
			return err
		}
		log.Info("configuration applied", "file", cfg.ConfigFile, "report", rep.String())
	}
	return nil
}

func printDevCredentials(out io.Writer, base string, c provision.DevCredentials) {
	fmt.Fprintf(out, "\nFoyer dev tenant %q (%s)\n  issuer:    %s/%s/v2.0\n  discovery: %s/%s/v2.0/.well-known/openid-configuration\n",
		c.TenantName, c.TenantID, base, c.TenantID, base, c.TenantName)
	for _, a := range c.Apps {
		kind := "public (PKCE)"
		if a.Confidential {
			kind = "confidential"
		}
		fmt.Fprintf(out, "  app %-12s %-14s redirect %s", a.ClientID, kind, a.RedirectURI)
		switch {
		case a.Secret != "":
			fmt.Fprintf(out, "  secret %s (shown once)", a.Secret)
		case a.Confidential:
			fmt.Fprint(out, "  (existing; secret unchanged)")
		}
		fmt.Fprintln(out)
	}
	for _, u := range c.Users {
		fmt.Fprintf(out, "  user %-20s", u.UserPrincipalName)
		if u.Password != "" {
			fmt.Fprintf(out, " password %s (shown once)", u.Password)
		} else {
			fmt.Fprint(out, " (existing; password unchanged)")
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out)
}

func isHTTP(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "http"
}

func isHTTPLocalhost(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return false
	}
	h := p.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// tokenMaxLifetime is the longest life of a signed token (ID and access
// tokens live 1 h): how long a demoted signing key stays published.
const tokenMaxLifetime = time.Hour

// ensureCommon creates the system tenant behind the common issuer
// (B/common/v2.0) and its signing keys.
func ensureCommon(ctx context.Context, store *redisstore.Store, km *keys.Manager) error {
	err := store.CreateTenant(ctx, storage.Tenant{
		ID: storage.CommonTenantID, Name: storage.CommonTenantID, DisplayName: "Work accounts",
		Kind: storage.System, CreatedAt: time.Now().UTC(),
	})
	if err != nil && !errors.Is(err, storage.ErrExists) {
		return err
	}
	return km.EnsureKeys(ctx, storage.CommonTenantID)
}

// newMailer is SMTP when --smtp-url is set, else the log (with a warning);
// in --dev (and tests) a mailbox in front keeps the last messages for the
// dev mailbox page.
func newMailer(cfg Config, log *slog.Logger) (email.Sender, *email.Mailbox, error) {
	var next email.Sender
	if cfg.SMTPURL != "" {
		s, err := email.NewSMTP(cfg.SMTPURL, email.SMTPConfig{PublicURL: cfg.PublicURL, TLSConfig: cfg.smtpTLS})
		if err != nil {
			return nil, nil, err
		}
		next = s
	} else {
		log.Warn("no --smtp-url: mail, verification codes included, is written to the log; never run like this in production")
		next = email.Log{Logger: log}
	}
	if !cfg.Dev && !cfg.keepMail {
		return next, nil, nil // production keeps no message, so no code, in memory
	}
	box := email.NewMailbox(email.DefaultMailboxSize, next)
	return box, box, nil
}

// devMailbox is the page listing the last messages, codes included: only
// in --dev.
func devMailbox(cfg Config, b *email.Mailbox) http.Handler {
	if !cfg.Dev {
		return nil
	}
	return b.Handler()
}
