package sso

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"
)

// Config configures Cookies.
type Config struct {
	// Insecure drops Secure and the __Host- prefix (dev on http://localhost).
	Insecure bool
}

// Cookies names, reads, writes and clears session cookies.
type Cookies struct{ cfg Config }

// New returns Cookies for cfg.
func New(cfg Config) *Cookies { return &Cookies{cfg: cfg} }

// Name is the session cookie's name for tenantID.
func (c *Cookies) Name(tenantID string) string {
	if c.cfg.Insecure {
		return "foyer-" + tenantID
	}
	return "__Host-foyer-" + tenantID
}

// Read returns the SHA-256 (hex) of the tenant's session cookie in r, or ""
// when there is none.
func (c *Cookies) Read(r *http.Request, tenantID string) string {
	ck, err := r.Cookie(c.Name(tenantID))
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return ""
	}
	return Hash(ck.Value)
}

// Issue writes a new session cookie that lives until expires and returns
// the SHA-256 (hex) to store.
func (c *Cookies) Issue(w http.ResponseWriter, tenantID string, expires time.Time) string {
	v := NewSecret()
	http.SetCookie(w, c.cookie(tenantID, v, expires))
	return Hash(v)
}

// Clear deletes the tenant's session cookie from the browser.
func (c *Cookies) Clear(w http.ResponseWriter, tenantID string) {
	ck := c.cookie(tenantID, "", time.Unix(0, 0))
	ck.MaxAge = -1
	http.SetCookie(w, ck)
}

func (c *Cookies) cookie(tenantID, value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     c.Name(tenantID),
		Value:    value,
		Path:     "/",
		Expires:  expires,
		Secure:   !c.cfg.Insecure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// NewSecret returns 256 random bits from crypto/rand, base64url-encoded.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is the hex SHA-256 of a high-entropy secret (session values, codes,
// refresh tokens): what the store keeps instead of the secret.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
