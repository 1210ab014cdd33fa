// Command foyer runs the Foyer identity provider and its admin commands.
//
//	foyer serve [--dev] [flags]          run the server
//	foyer keys rotate --tenant T [--now] rotate a tenant's signing keys
//	foyer policy get|update --tenant T   read or change the authorization policy
//	foyer audit list --tenant T          read the audit log
//	foyer version                        version, commit, Go and crypto backend
//
// Every flag has an environment twin (FOYER_*); secrets come only from the
// environment or files (FOYER_KEK, FOYER_KEK_FILE), never from flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/foyer-id/foyer/provider"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage/redisstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(os.Stdout, err.Error())
	case err != nil:
		fmt.Fprintln(os.Stderr, "foyer:", err)
		os.Exit(2)
	}
}

const usage = `usage:
  foyer serve [--dev] [--addr :8080] [--public-url URL] [--redis-url URL] [--smtp-url URL] [--config FILE]
      [--tls-cert-file FILE --tls-key-file FILE]
  foyer keys rotate --tenant T [--now]
  foyer policy get --tenant T
  foyer policy update --tenant T [--allowed-to-sign-up-email-based-subscriptions=BOOL]
      [--allow-email-verified-users-to-join-organization=BOOL] [--allowed-to-use-sspr=BOOL]
      [--allowed-to-read-other-users=BOOL] [--allow-invites-from=VALUE]
  foyer audit list --tenant T [--top N]
  foyer version
run "foyer serve --help" for every flag and its environment twin`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		cfg, err := loadValidConfig(args[1:], getenv)
		if err != nil {
			return err
		}
		log := newLogger(stderr, cfg)
		return serve(ctx, cfg, log, stdout, nil)
	case "keys":
		if len(args) < 2 || args[1] != "rotate" {
			return errors.New("usage: foyer keys rotate --tenant T [--now]")
		}
		return rotateKeys(ctx, args[2:], getenv, stdout, stderr)
	case "policy":
		return policyCommand(ctx, args[1:], getenv, stdout, stderr)
	case "audit":
		return auditCommand(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		return versionCommand(stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func loadValidConfig(args []string, getenv func(string) string) (Config, error) {
	cfg, err := loadConfig(args, getenv)
	if err == nil {
		err = cfg.Validate()
	}
	return cfg, err
}

func newLogger(w io.Writer, cfg Config) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel})
	l := slog.New(provider.LogHandler(h))
	slog.SetDefault(l)
	redisstore.SetLogger(l) // failed store calls, and go-redis's own lines, as JSON
	return l
}

// serve runs the server until ctx ends, then shuts down gracefully. When
// ready is not nil it receives the bound address once the server listens.
func serve(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer, ready chan<- string) error {
	if err := checkCryptoBackend(log); err != nil {
		return err
	}
	tlsCfg, err := tlsConfig(cfg, stdout)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsCfg,
	}
	errc := make(chan error, 1)
	if tlsCfg != nil {
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	log.Info("foyer listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "tls", tlsCfg != nil)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// rotateKeys runs one rotation step for a tenant (see package keys): the
// first call publishes the next keys, a call after the publish delay
// promotes them; --now does both at once.
func rotateKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", "", "tenant GUID, name or verified domain (required)")
	now := fs.Bool("now", false, "publish and promote at once (tokens verified against a cached JWKS may fail until caches refresh)")
	var rest []string
	for i := 0; i < len(args); i++ { // split our flags from the server's
		switch a := args[i]; {
		case a == "--now" || a == "-now":
			*now = true
		case (a == "--tenant" || a == "-tenant") && i+1 < len(args):
			*tenant = args[i+1]
			i++
		default:
			rest = append(rest, a)
		}
	}
	if err := fs.Parse(nil); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("--tenant is required")
	}
	cfg, err := loadValidConfig(rest, getenv)
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		return errors.New("--redis-url (FOYER_REDIS_URL) is required: rotating the keys of an embedded store is pointless")
	}
	log := newLogger(stderr, cfg)
	store, _, closers, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	km, err := openKeys(cfg, store, log)
	if err != nil {
		return err
	}
	t, err := tenancy.NewResolver(store, tenancy.Config{CacheTTL: -1}).Resolve(ctx, *tenant)
	if err != nil {
		return err
	}
	if *now {
		err = km.RotateNow(ctx, t.ID)
	} else {
		err = km.Rotate(ctx, t.ID)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rotated signing keys of tenant %s (%s)\n", t.Name, t.ID)
	return nil
}
