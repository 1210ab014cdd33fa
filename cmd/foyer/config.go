package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the configuration of `foyer serve` (DESIGN.md section 7). Every
// setting has a flag and an environment twin; a flag wins over its
// environment variable, which wins over the default. The key-encryption key
// is a secret and so has no flag.
type Config struct {
	// Addr is the listen address (--addr, FOYER_ADDR; default ":8080", and
	// devAddr with --dev).
	Addr string
	// PublicURL is the base URL B of every public URL (--public-url,
	// FOYER_PUBLIC_URL; default "http://localhost:8080"), without a
	// trailing slash.
	PublicURL string
	// RedisURL is redis://, rediss://, unix://, redis+sentinel:// or
	// redis+cluster:// (see storage/redisstore) (--redis-url,
	// FOYER_REDIS_URL); empty runs the embedded in-process server.
	RedisURL string
	// SMTPURL is smtp:// (STARTTLS) or smtps:// (--smtp-url,
	// FOYER_SMTP_URL); empty writes mail to the log.
	SMTPURL string
	// ConfigFile is the provisioning YAML applied at start (--config,
	// FOYER_CONFIG); empty for none.
	ConfigFile string
	// Dev provisions the demo tenant and its apps and serves the dev
	// mailbox (--dev, FOYER_DEV).
	Dev bool
	// LogLevel is debug, info, warn or error (--log-level,
	// FOYER_LOG_LEVEL; default info).
	LogLevel slog.Level
	// KEK is the 32-byte key-encryption key of the signing keys, from
	// FOYER_KEK or the file named by FOYER_KEK_FILE, base64 (standard or
	// URL alphabet, padded or not) or hex. Required unless Dev.
	KEK []byte
	// clock replaces time.Now in the sign-up flows; tests set it.
	clock func() time.Time
	// keepMail keeps the last messages in memory (the mailbox); tests set
	// it, --dev implies it.
	keepMail bool
	// maxStartsPerIP overrides the sign-up flows' per-IP hourly limit
	// (benchmarks sign up thousands of accounts from one address).
	maxStartsPerIP int64
	// maxCodesPerAddress overrides the per-address hourly limit of codes
	// (0: the service's default); for tests whose load retries 503s.
	maxCodesPerAddress int64
	// signInFirstLock overrides the first sign-in lock (1 s): tests on a
	// loaded machine hold a lock longer than their requests take.
	signInFirstLock time.Duration
	// smtpTLS is the base TLS configuration of the SMTP sender (tests add
	// their server's CA); nil uses the system roots.
	smtpTLS *tls.Config
	// ShutdownTimeout bounds the graceful shutdown (--shutdown-timeout,
	// FOYER_SHUTDOWN_TIMEOUT; default 10s).
	ShutdownTimeout time.Duration
	// TLSCertFile and TLSKeyFile are a PEM certificate chain and its key
	// (--tls-cert-file, FOYER_TLS_CERT_FILE; --tls-key-file,
	// FOYER_TLS_KEY_FILE): Foyer then serves HTTPS itself. Both or neither.
	// Without them, --dev with an https://localhost public URL serves HTTPS
	// with a certificate of a generated development CA (tls.go).
	TLSCertFile, TLSKeyFile string
	// devCADir is the development CA's folder (tests set it); empty is
	// the user's cache folder (~/.cache/foyer on Linux).
	devCADir string
	// RequestTimeout is every request's deadline: a request whose Redis
	// calls have not answered by then gets 503 with Retry-After
	// (--request-timeout, FOYER_REQUEST_TIMEOUT; default 5s).
	RequestTimeout time.Duration
}

// kekSize is the size of the AES-256 key-encryption key.
const kekSize = 32

// setting ties a flag to its environment twin; hint replaces the flag
// package's terse parse error.
type setting struct {
	flag, env, hint string
}

var settings = []setting{
	{"addr", "FOYER_ADDR", ""},
	{"public-url", "FOYER_PUBLIC_URL", ""},
	{"redis-url", "FOYER_REDIS_URL", ""},
	{"smtp-url", "FOYER_SMTP_URL", ""},
	{"config", "FOYER_CONFIG", ""},
	{"dev", "FOYER_DEV", "want true or false"},
	{"log-level", "FOYER_LOG_LEVEL", ""},
	{"shutdown-timeout", "FOYER_SHUTDOWN_TIMEOUT", "want a duration such as 10s"},
	{"tls-cert-file", "FOYER_TLS_CERT_FILE", ""},
	{"tls-key-file", "FOYER_TLS_KEY_FILE", ""},
	{"request-timeout", "FOYER_REQUEST_TIMEOUT", "want a duration such as 5s"},
}

// levelValue is a flag.Value accepting debug, info, warn and error.
type levelValue struct{ l *slog.Level }

func (v levelValue) String() string {
	if v.l == nil {
		return ""
	}
	return strings.ToLower(v.l.String())
}

func (v levelValue) Set(s string) error {
	l, ok := parseLevel(s)
	if !ok {
		return errors.New("want debug, info, warn or error")
	}
	*v.l = l
	return nil
}

// usageError is returned for -h and --help; its message is the usage text
// and it matches flag.ErrHelp.
type usageError struct{ usage string }

func (e *usageError) Error() string { return e.usage }
func (e *usageError) Unwrap() error { return flag.ErrHelp }

// loadConfig builds the configuration of `foyer serve` from args (the
// arguments after "serve") and the environment read through getenv. It
// reports malformed values; Validate checks the result. For -h it returns
// an error matching flag.ErrHelp whose message is the usage text.
func loadConfig(args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("foyer serve", flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer)) // errors are returned, not printed
	fs.StringVar(&c.Addr, "addr", ":8080", "listen `address`; with --dev the default is "+devAddr+" (FOYER_ADDR)")
	fs.StringVar(&c.PublicURL, "public-url", "http://localhost:8080", "public base `URL`, never taken from Host headers (FOYER_PUBLIC_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", "", "redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// `URL`; empty runs an embedded server whose state is lost on exit (FOYER_REDIS_URL)")
	fs.StringVar(&c.SMTPURL, "smtp-url", "", "smtp:// (STARTTLS) or smtps:// `URL`; empty writes mail to the log (FOYER_SMTP_URL)")
	fs.StringVar(&c.ConfigFile, "config", "", "provisioning YAML `file` applied at start (FOYER_CONFIG)")
	fs.BoolVar(&c.Dev, "dev", false, "demo tenant and apps with generated secrets, and the dev mailbox page, for local use only (FOYER_DEV)")
	c.LogLevel = slog.LevelInfo
	fs.Var(levelValue{&c.LogLevel}, "log-level", "`level`: debug, info, warn or error (FOYER_LOG_LEVEL)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "graceful shutdown `limit` (FOYER_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "PEM certificate chain `file`: serve HTTPS (with --tls-key-file); without both, --dev with an https://localhost --public-url generates a certificate (FOYER_TLS_CERT_FILE)")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "PEM private key `file` of --tls-cert-file (FOYER_TLS_KEY_FILE)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 5*time.Second, "every request's `deadline`: a request Redis has not served by then gets 503 with Retry-After (FOYER_REQUEST_TIMEOUT)")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, &usageError{serveUsage(fs)}
		}
		return c, fmt.Errorf("%w (see foyer serve -h)", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see foyer serve -h)", fs.Arg(0))
	}

	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	var errs []error
	for _, s := range settings {
		if explicit[s.flag] {
			continue
		}
		if v := getenv(s.env); v != "" {
			if err := fs.Set(s.flag, v); err != nil {
				why := s.hint
				if why == "" {
					why = err.Error()
				}
				errs = append(errs, fmt.Errorf("%s: invalid value %q: %s", s.env, v, why))
			}
		}
	}

	devLoopback(&c, explicit["addr"] || getenv("FOYER_ADDR") != "")

	kek, kekFile := getenv("FOYER_KEK"), getenv("FOYER_KEK_FILE")
	switch {
	case kek != "" && kekFile != "":
		errs = append(errs, errors.New("FOYER_KEK and FOYER_KEK_FILE are mutually exclusive"))
	case kek != "":
		k, err := decodeKEK(kek)
		if err != nil {
			errs = append(errs, fmt.Errorf("FOYER_KEK: %w", err))
		}
		c.KEK = k
	case kekFile != "":
		b, err := os.ReadFile(kekFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("FOYER_KEK_FILE: %w", err))
			break
		}
		k, err := decodeKEK(string(b))
		if err != nil {
			errs = append(errs, fmt.Errorf("FOYER_KEK_FILE: %s: %w", kekFile, err))
		}
		c.KEK = k
	}
	return c, errors.Join(errs...)
}

// devAddr is where --dev listens unless an address is given: loopback
// only, since --dev serves the unauthenticated dev mailbox (reset codes).
const devAddr = "127.0.0.1:8080"

// devLoopback makes --dev listen on devAddr when no address was given.
func devLoopback(c *Config, addrGiven bool) {
	if c.Dev && !addrGiven {
		c.Addr = devAddr
	}
}

func serveUsage(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("Usage: foyer serve [flags]\n\nFlags (each with an environment twin; a flag wins):\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	b.WriteString("\nSecrets, from the environment only:\n" +
		"  FOYER_KEK       key-encryption key of the signing keys: 32 bytes, base64 or hex\n" +
		"                  (openssl rand -base64 32); required unless --dev\n" +
		"  FOYER_KEK_FILE  file holding FOYER_KEK instead\n")
	return b.String()
}

// decodeKEK decodes a 32-byte key written in hex or base64 (either
// alphabet, padded or not). Surrounding white space is ignored. Its errors
// never quote the key.
func decodeKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*kekSize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != kekSize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d (openssl rand -base64 32)", len(k), kekSize)
			}
			return k, nil
		}
	}
	return nil, errors.New("not base64 or hex (openssl rand -base64 32)")
}

// Validate reports every problem of the configuration at once, each naming
// the flag and its environment variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(flagName, env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s (%s): %s", flagName, env, fmt.Sprintf(format, args...)))
	}

	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "FOYER_ADDR", "%q: want host:port or :port", c.Addr)
	}
	if why := publicURLProblem(c.PublicURL); why != "" {
		bad("public-url", "FOYER_PUBLIC_URL", "%s", why)
	}
	if c.RedisURL != "" {
		if why := serviceURLProblem(c.RedisURL, "redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster"); why != "" {
			bad("redis-url", "FOYER_REDIS_URL", "%s", why)
		}
	}
	if c.SMTPURL != "" {
		if why := serviceURLProblem(c.SMTPURL, "smtp", "smtps"); why != "" {
			bad("smtp-url", "FOYER_SMTP_URL", "%s", why)
		}
	}
	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		bad("log-level", "FOYER_LOG_LEVEL", "%v: want debug, info, warn or error", c.LogLevel)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "FOYER_SHUTDOWN_TIMEOUT", "%v: must be positive", c.ShutdownTimeout)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file (FOYER_TLS_CERT_FILE) and --tls-key-file (FOYER_TLS_KEY_FILE) go together"))
	} else if c.TLSCertFile != "" && strings.HasPrefix(c.PublicURL, "http:") {
		bad("public-url", "FOYER_PUBLIC_URL", "%q: must be https when Foyer serves TLS itself (--tls-cert-file)", c.PublicURL)
	}
	if c.RequestTimeout <= 0 {
		bad("request-timeout", "FOYER_REQUEST_TIMEOUT", "%v: must be positive", c.RequestTimeout)
	}
	switch {
	case len(c.KEK) == 0 && !c.Dev:
		errs = append(errs, errors.New("FOYER_KEK or FOYER_KEK_FILE is required (32 random bytes, base64: openssl rand -base64 32); only --dev runs without one"))
	case len(c.KEK) != 0 && len(c.KEK) != kekSize:
		errs = append(errs, fmt.Errorf("FOYER_KEK: %d bytes, want %d", len(c.KEK), kekSize))
	}
	return errors.Join(errs...)
}

// publicURLProblem says what is wrong with the public base URL, or "".
func publicURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "required"
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q: must be an absolute http(s) URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q: scheme must be https (or http for localhost)", s)
	case u.User != nil:
		return fmt.Sprintf("%q: must not contain user info", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Sprintf("%q: must not have a query", s)
	case strings.Contains(s, "#"):
		return fmt.Sprintf("%q: must not have a fragment", s)
	case strings.HasSuffix(s, "/"):
		return fmt.Sprintf("%q: must not end with a slash", s)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Sprintf("%q: https is required unless the host is localhost, 127.0.0.1 or [::1]", s)
	}
	return ""
}

// serviceURLProblem says what is wrong with a Redis or SMTP URL, or "". It
// never quotes the URL's password.
func serviceURLProblem(s string, schemes ...string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "not a valid URL"
	}
	known := false
	for _, k := range schemes {
		known = known || u.Scheme == k
	}
	switch {
	case !known:
		return fmt.Sprintf("%q: scheme must be %s", u.Redacted(), strings.Join(schemes, ":// or ")+"://")
	case u.Scheme == "unix" && u.Path == "":
		return fmt.Sprintf("%q: needs the socket path (unix:///path/to/redis.sock)", u.Redacted())
	case u.Scheme != "unix" && u.Hostname() == "":
		return fmt.Sprintf("%q: needs a host", u.Redacted())
	}
	return ""
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// LogValue logs the configuration without secrets: URL passwords are
// redacted and the KEK shows only whether it is set.
func (c Config) LogValue() slog.Value {
	redact := func(s string) string {
		if u, err := url.Parse(s); err == nil {
			return u.Redacted()
		}
		if s != "" {
			return "(invalid)"
		}
		return ""
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("publicUrl", c.PublicURL),
		slog.String("redisUrl", redact(c.RedisURL)),
		slog.String("smtpUrl", redact(c.SMTPURL)),
		slog.String("config", c.ConfigFile),
		slog.Bool("dev", c.Dev),
		slog.String("logLevel", strings.ToLower(c.LogLevel.String())),
		slog.Bool("kek", len(c.KEK) > 0),
		slog.Duration("shutdownTimeout", c.ShutdownTimeout),
		slog.String("tlsCertFile", c.TLSCertFile),
		slog.String("tlsKeyFile", c.TLSKeyFile),
		slog.Duration("requestTimeout", c.RequestTimeout),
	)
}
