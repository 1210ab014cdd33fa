package provider

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// TenantHandler serves the paths below a tenant's issuer it claims.
type TenantHandler interface {
	ServeTenant(w http.ResponseWriter, r *http.Request, rel string)
}

// Pinger reports whether the store is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config wires the application.
type Config struct {
	Resolver *tenancy.Resolver
	Store    Pinger
	// Protocol serves OIDC endpoints; HandlesProtocol says which paths.
	Protocol        TenantHandler
	HandlesProtocol func(rel string) bool
	// Pages serves browser pages; HandlesPages says which paths.
	Pages        TenantHandler
	HandlesPages func(rel string) bool
	// PageError, when set, answers a request to a path a browser navigates
	// to (BrowserPath) that fails before its handler runs, e.g. an unknown
	// tenant, with the error page instead of JSON.
	PageError   func(w http.ResponseWriter, r *http.Request, err error)
	BrowserPath func(rel string) bool
	// DevMailbox, when set (--dev only), is served at /dev/mailbox.
	DevMailbox http.Handler
	// Graph serves the Graph-style API under /v1.0/ (provider/graph);
	// nil leaves those paths unrouted.
	Graph  http.Handler
	Logger *slog.Logger
	// RequestTimeout is every request's deadline (see deadline); 0 means
	// none.
	RequestTimeout time.Duration
}

// New returns the application's handler.
func New(cfg Config) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = false
	r.Use(requestLog(cfg.Logger), recovery(cfg.Logger), deadline(cfg.RequestTimeout))

	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := cfg.Store.Ping(ctx); err != nil {
			cfg.Logger.WarnContext(ctx, "not ready", "err", err)
			c.Header("Retry-After", "5")
			c.String(http.StatusServiceUnavailable, "redis unreachable\n")
			return
		}
		c.String(http.StatusOK, "ready\n")
	})
	r.StaticFS("/static", http.FS(templates.Static()))
	if cfg.Graph != nil {
		r.Any("/v1.0/*path", gin.WrapH(cfg.Graph))
	}
	if cfg.DevMailbox != nil {
		r.GET("/dev/mailbox", gin.WrapH(cfg.DevMailbox))
	}
	r.Any("/:tenant/v2.0/*rest", func(c *gin.Context) { serveTenant(cfg, c, c.Param("rest")) })
	// Authorities in OIDC mode (MSAL's protocolMode "OIDC") read discovery at
	// B/{tenant}/.well-known/openid-configuration: the same document.
	r.GET("/:tenant/.well-known/openid-configuration", func(c *gin.Context) {
		serveTenant(cfg, c, "/.well-known/openid-configuration")
	})
	r.NoRoute(func(c *gin.Context) {
		writeJSONError(c.Writer, fault.New(fault.NotFound, "not_found", "No such endpoint."))
	})
	return r
}

// serveTenant resolves the {tenant} segment and hands rel, the path below
// the tenant's issuer, to the protocol or the pages.
func serveTenant(cfg Config, c *gin.Context, rel string) {
	var h TenantHandler
	switch {
	case cfg.HandlesProtocol(rel):
		h = cfg.Protocol
	case cfg.HandlesPages(rel):
		h = cfg.Pages
	default:
		writeJSONError(c.Writer, fault.New(fault.NotFound, "not_found", "No such endpoint."))
		return
	}
	t, err := cfg.Resolver.Resolve(c.Request.Context(), c.Param("tenant"))
	if err != nil && cfg.PageError != nil && cfg.BrowserPath(rel) {
		cfg.PageError(c.Writer, c.Request, err)
		return
	}
	if err != nil {
		writeJSONError(c.Writer, err)
		return
	}
	r := c.Request.WithContext(tenancy.WithTenant(c.Request.Context(), t))
	h.ServeTenant(c.Writer, r, rel)
}

// readyTimeout bounds /readyz's ping, within the request's deadline: a
// frozen Redis makes it answer 503 by then.
const readyTimeout = time.Second

// deadline gives every request a deadline d from its start (none when d is
// 0). The store's calls honour it (storage/redisstore), so a request whose
// Redis does not answer in time fails with storage.ErrUnavailable and is
// answered 503 with Retry-After shortly after d, by the handler's own error
// path. A handler that wrote nothing by its deadline gets that 503 here.
func deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d <= 0 {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		if !c.Writer.Written() && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			writeJSONError(c.Writer, ctx.Err())
		}
	}
}

// writeJSONError answers outside any protocol with an OAuth-style body.
func writeJSONError(w http.ResponseWriter, err error) {
	e := fault.From(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if s := fault.RetryAfterSeconds(e); s > 0 {
		h.Set("Retry-After", strconv.Itoa(s))
	}
	w.WriteHeader(fault.Status(e))
	json.NewEncoder(w).Encode(map[string]string{"error": e.Code, "error_description": e.Message})
}

type requestIDKey struct{}

// RequestID returns the request's ID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// newRequestID returns a random GUID (from crypto/rand, as storage.NewID):
// Microsoft Graph's request-id is one, and the Graph-style API sends this
// ID as its request-id.
func newRequestID() string { return storage.NewID() }

// requestLog assigns a request ID and writes one log line per request. The
// query string is left out: it may hold codes and tokens.
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := newRequestID()
		c.Header("X-Request-Id", id)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("path", strings.ToValidUTF8(c.Request.URL.Path, "?")),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
		)
	}
}

func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(c.Request.Context(), "panic", "value", v)
				if !c.Writer.Written() {
					writeJSONError(c.Writer, fault.New(fault.Internal, "internalError", "Something went wrong on our side."))
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}
