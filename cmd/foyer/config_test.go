package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testKEK is 32 bytes.
var testKEK = []byte("0123456789abcdef0123456789abcdef")

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	kekFile := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(kekFile, []byte(hex.EncodeToString(testKEK)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	defaults := Config{
		Addr: ":8080", PublicURL: "http://localhost:8080", LogLevel: slog.LevelInfo, ShutdownTimeout: 10 * time.Second,
		RequestTimeout: 5 * time.Second,
	}
	fullEnv := map[string]string{
		"FOYER_ADDR":             "127.0.0.1:9000",
		"FOYER_PUBLIC_URL":       "https://id.example.com",
		"FOYER_REDIS_URL":        "rediss://:pw@redis.example.com:6380/0",
		"FOYER_SMTP_URL":         "smtps://mailer:pw@smtp.example.com:465",
		"FOYER_CONFIG":           "/etc/foyer/foyer.yaml",
		"FOYER_DEV":              "true",
		"FOYER_LOG_LEVEL":        "DEBUG",
		"FOYER_SHUTDOWN_TIMEOUT": "30s",
		"FOYER_REQUEST_TIMEOUT":  "2s",
		"FOYER_KEK":              base64.StdEncoding.EncodeToString(testKEK),
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*Config)
	}{{
		name: "defaults",
		want: func(*Config) {},
	}, {
		name: "env only",
		env:  fullEnv,
		want: func(c *Config) {
			*c = Config{
				Addr: "127.0.0.1:9000", PublicURL: "https://id.example.com",
				RedisURL: "rediss://:pw@redis.example.com:6380/0", SMTPURL: "smtps://mailer:pw@smtp.example.com:465",
				ConfigFile: "/etc/foyer/foyer.yaml", Dev: true, LogLevel: slog.LevelDebug,
				ShutdownTimeout: 30 * time.Second, RequestTimeout: 2 * time.Second, KEK: testKEK,
			}
		},
	}, {
		name: "flags override env",
		env:  fullEnv,
		args: []string{
			"--addr", ":7000", "--public-url=https://login.example.org", "--redis-url", "redis://localhost:6379",
			"--smtp-url", "smtp://localhost:25", "--config", "dev.yaml", "--dev=false", "--log-level", "warn",
			"-shutdown-timeout", "1m", "--request-timeout", "750ms",
		},
		want: func(c *Config) {
			*c = Config{
				Addr: ":7000", PublicURL: "https://login.example.org", RedisURL: "redis://localhost:6379",
				SMTPURL: "smtp://localhost:25", ConfigFile: "dev.yaml", Dev: false, LogLevel: slog.LevelWarn,
				ShutdownTimeout: time.Minute, RequestTimeout: 750 * time.Millisecond, KEK: testKEK,
			}
		},
	}, {
		name: "a flag overrides only its own variable",
		env:  map[string]string{"FOYER_ADDR": ":9000", "FOYER_DEV": "1"},
		args: []string{"--addr", ":7000"},
		want: func(c *Config) { c.Addr, c.Dev = ":7000", true },
	}, {
		name: "empty variables are unset",
		env:  map[string]string{"FOYER_ADDR": "", "FOYER_LOG_LEVEL": ""},
		want: func(*Config) {},
	}, {
		name: "KEK from a file, hex with a line break",
		env:  map[string]string{"FOYER_KEK_FILE": kekFile},
		want: func(c *Config) { c.KEK = testKEK },
	}, {
		name: "KEK unpadded base64url",
		env:  map[string]string{"FOYER_KEK": base64.RawURLEncoding.EncodeToString(testKEK)},
		want: func(c *Config) { c.KEK = testKEK },
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(tt.args, envFrom(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config:\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	const badKEK = "c2hvcnQta2V5" // "short-key"
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{{
		name: "malformed variables",
		env:  map[string]string{"FOYER_DEV": "maybe", "FOYER_LOG_LEVEL": "verbose", "FOYER_SHUTDOWN_TIMEOUT": "10"},
		want: `FOYER_DEV: invalid value "maybe": want true or false
FOYER_LOG_LEVEL: invalid value "verbose": want debug, info, warn or error
FOYER_SHUTDOWN_TIMEOUT: invalid value "10": want a duration such as 10s`,
	}, {
		name: "unknown flag",
		args: []string{"--kek", "x"},
		want: `flag provided but not defined: -kek (see foyer serve -h)`,
	}, {
		name: "malformed flag",
		args: []string{"--log-level", "loud"},
		want: `invalid value "loud" for flag -log-level: want debug, info, warn or error (see foyer serve -h)`,
	}, {
		name: "positional argument",
		args: []string{"--dev", "extra"},
		want: `unexpected argument "extra" (see foyer serve -h)`,
	}, {
		name: "both KEK sources",
		env:  map[string]string{"FOYER_KEK": badKEK, "FOYER_KEK_FILE": missing},
		want: `FOYER_KEK and FOYER_KEK_FILE are mutually exclusive`,
	}, {
		name: "short KEK",
		env:  map[string]string{"FOYER_KEK": badKEK},
		want: `FOYER_KEK: decodes to 9 bytes, want 32 (openssl rand -base64 32)`,
	}, {
		name: "KEK not encoded",
		env:  map[string]string{"FOYER_KEK": "not a key!"},
		want: `FOYER_KEK: not base64 or hex (openssl rand -base64 32)`,
	}, {
		name: "KEK file missing",
		env:  map[string]string{"FOYER_KEK_FILE": missing},
		want: `FOYER_KEK_FILE: open ` + missing + `: no such file or directory`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.args, envFrom(tt.env))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n%v\nwant\n%s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "short-key") {
				t.Errorf("error reveals the KEK")
			}
		})
	}
}

func TestLoadConfigHelp(t *testing.T) {
	_, err := loadConfig([]string{"-h"}, envFrom(map[string]string{"FOYER_REDIS_URL": "redis://:hunter2@r:6379"}))
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, s := range []string{"Usage: foyer serve", "-public-url URL", "FOYER_PUBLIC_URL", "(default \"http://localhost:8080\")", "FOYER_KEK_FILE", "(default info)", "-request-timeout deadline", "FOYER_REQUEST_TIMEOUT", "(default 5s)"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("usage lacks %q:\n%s", s, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("usage shows a value from the environment")
	}
}

func TestValidate(t *testing.T) {
	valid := Config{
		Addr: ":8080", PublicURL: "https://id.example.com", LogLevel: slog.LevelInfo,
		ShutdownTimeout: 10 * time.Second, RequestTimeout: 5 * time.Second, KEK: testKEK,
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"public URL with a path", func(c *Config) { c.PublicURL = "https://example.com/foyer" }, ""},
		{"http on localhost", func(c *Config) { c.PublicURL = "http://localhost:8080" }, ""},
		{"http on 127.0.0.1", func(c *Config) { c.PublicURL = "http://127.0.0.1:8080" }, ""},
		{"http on [::1]", func(c *Config) { c.PublicURL = "http://[::1]:8080" }, ""},
		{"dev without KEK", func(c *Config) { c.Dev, c.KEK = true, nil }, ""},
		{"service URLs", func(c *Config) {
			c.RedisURL, c.SMTPURL = "redis://:pw@redis:6379/0?addr=redis2:6379", "smtp://user:pass@smtp.example.com:587"
		}, ""},
		{"rediss and smtps", func(c *Config) { c.RedisURL, c.SMTPURL = "rediss://redis.example.com", "smtps://smtp.example.com" }, ""},
		{"unix socket", func(c *Config) { c.RedisURL = "unix:///run/redis.sock" }, ""},

		{"addr", func(c *Config) { c.Addr = "8080" },
			`--addr (FOYER_ADDR): "8080": want host:port or :port`},
		{"no public URL", func(c *Config) { c.PublicURL = "" },
			`--public-url (FOYER_PUBLIC_URL): required`},
		{"relative public URL", func(c *Config) { c.PublicURL = "id.example.com" },
			`--public-url (FOYER_PUBLIC_URL): "id.example.com": must be an absolute http(s) URL`},
		{"host:port public URL", func(c *Config) { c.PublicURL = "localhost:8080" },
			`--public-url (FOYER_PUBLIC_URL): "localhost:8080": must be an absolute http(s) URL`},
		{"ftp public URL", func(c *Config) { c.PublicURL = "ftp://id.example.com" },
			`--public-url (FOYER_PUBLIC_URL): "ftp://id.example.com": scheme must be https (or http for localhost)`},
		{"http public URL", func(c *Config) { c.PublicURL = "http://id.example.com" },
			`--public-url (FOYER_PUBLIC_URL): "http://id.example.com": https is required unless the host is localhost, 127.0.0.1 or [::1]`},
		{"trailing slash", func(c *Config) { c.PublicURL = "https://id.example.com/" },
			`--public-url (FOYER_PUBLIC_URL): "https://id.example.com/": must not end with a slash`},
		{"query", func(c *Config) { c.PublicURL = "https://id.example.com?tenant=x" },
			`--public-url (FOYER_PUBLIC_URL): "https://id.example.com?tenant=x": must not have a query`},
		{"empty query", func(c *Config) { c.PublicURL = "https://id.example.com?" },
			`--public-url (FOYER_PUBLIC_URL): "https://id.example.com?": must not have a query`},
		{"fragment", func(c *Config) { c.PublicURL = "https://id.example.com#top" },
			`--public-url (FOYER_PUBLIC_URL): "https://id.example.com#top": must not have a fragment`},
		{"user info", func(c *Config) { c.PublicURL = "https://admin:hunter2@id.example.com" },
			`--public-url (FOYER_PUBLIC_URL): "https://admin:xxxxx@id.example.com": must not contain user info`},
		{"redis scheme", func(c *Config) { c.RedisURL = "memcached://u:hunter2@cache:11211" },
			`--redis-url (FOYER_REDIS_URL): "memcached://u:xxxxx@cache:11211": scheme must be redis:// or rediss:// or unix:// or redis+sentinel:// or rediss+sentinel:// or redis+cluster:// or rediss+cluster://`},
		{"redis host", func(c *Config) { c.RedisURL = "redis://" },
			`--redis-url (FOYER_REDIS_URL): "redis:": needs a host`},
		{"unix path", func(c *Config) { c.RedisURL = "unix://" },
			`--redis-url (FOYER_REDIS_URL): "unix:": needs the socket path (unix:///path/to/redis.sock)`},
		{"smtp scheme", func(c *Config) { c.SMTPURL = "mailto:admin@example.com" },
			`--smtp-url (FOYER_SMTP_URL): "mailto:admin@example.com": scheme must be smtp:// or smtps://`},
		{"smtp host", func(c *Config) { c.SMTPURL = "smtp:///" },
			`--smtp-url (FOYER_SMTP_URL): "smtp:///": needs a host`},
		{"log level", func(c *Config) { c.LogLevel = slog.LevelInfo + 2 },
			`--log-level (FOYER_LOG_LEVEL): INFO+2: want debug, info, warn or error`},
		{"shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 },
			`--shutdown-timeout (FOYER_SHUTDOWN_TIMEOUT): 0s: must be positive`},
		{"request timeout", func(c *Config) { c.RequestTimeout = -time.Second },
			`--request-timeout (FOYER_REQUEST_TIMEOUT): -1s: must be positive`},
		{"KEK required", func(c *Config) { c.KEK = nil },
			`FOYER_KEK or FOYER_KEK_FILE is required (32 random bytes, base64: openssl rand -base64 32); only --dev runs without one`},
		{"KEK size", func(c *Config) { c.KEK = testKEK[:16] },
			`FOYER_KEK: 16 bytes, want 32`},
		{"every problem at once", func(c *Config) { c.Addr, c.PublicURL, c.KEK = "", "http://example.com/", nil },
			`--addr (FOYER_ADDR): "": want host:port or :port
--public-url (FOYER_PUBLIC_URL): "http://example.com/": must not end with a slash
FOYER_KEK or FOYER_KEK_FILE is required (32 random bytes, base64: openssl rand -base64 32); only --dev runs without one`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate:\n%v\nwant\n%s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error reveals a password: %v", err)
			}
		})
	}
}

// TestDefaultsValidInDev: `foyer serve --dev` with nothing else set starts.
func TestDefaultsValidInDev(t *testing.T) {
	c, err := loadConfig([]string{"--dev"}, envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	c.Dev = false
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "FOYER_KEK") {
		t.Errorf("without --dev: %v, want the KEK required", err)
	}
}

func TestConfigLogValue(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	c := Config{
		Addr: ":8080", PublicURL: "https://id.example.com", RedisURL: "redis://:hunter2@redis:6379",
		SMTPURL: "smtp://mailer:hunter2@smtp:587", KEK: testKEK, LogLevel: slog.LevelWarn, ShutdownTimeout: time.Second,
		RequestTimeout: 3 * time.Second,
	}
	log.Info("config", "config", c)
	out := b.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, string(testKEK)) {
		t.Errorf("log line reveals a secret: %s", out)
	}
	for _, s := range []string{"config.redisUrl=redis://:xxxxx@redis:6379", "config.kek=true", "config.logLevel=warn", "config.requestTimeout=3s"} {
		if !strings.Contains(out, s) {
			t.Errorf("log line lacks %s: %s", s, out)
		}
	}
}
