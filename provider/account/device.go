package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Device tokens (OWASP's "device cookies"): a browser that signed in to an
// address gets a token naming the tenant and the address, a random nonce
// and an expiry, under an HMAC. An attempt carrying a valid token for its
// address counts its failures per token instead of per address, so that
// failures from elsewhere never lock the owner's browser out; after
// MaxDeviceFailures failures the token is revoked (its nonce recorded for
// the token's lifetime) and counts as no token at all.
//
// The token carries no address: the address and tenant enter only its
// HMAC, so a token for one account is worthless for another.

// DeviceSlot is a stable, opaque name of the address in the tenant, under
// which the browser keeps the address's device token (the web layer's
// cookie name); "" for a malformed address or without a DeviceKey.
func (s *Service) DeviceSlot(tenantID, email string) string {
	mail, err := NormalizeEmail(email)
	if err != nil || len(s.cfg.DeviceKey) == 0 {
		return ""
	}
	return hex.EncodeToString(s.deviceMAC("slot", tenantID, mail)[:12])
}

// newDevice returns a new device token for the address and its expiry.
func (s *Service) newDevice(tenantID, mail string) (string, time.Time) {
	if len(s.cfg.DeviceKey) == 0 {
		return "", time.Time{}
	}
	var b [16]byte
	rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	exp := s.cfg.Clock().Add(s.cfg.DeviceLifetime).Truncate(time.Second)
	e := strconv.FormatInt(exp.Unix(), 10)
	mac := base64.RawURLEncoding.EncodeToString(s.deviceMAC("token", tenantID, mail, nonce, e))
	return nonce + "." + e + "." + mac, exp
}

// trustedDevice returns the nonce of token when it is a device token of
// this address in this tenant, unexpired and not revoked; else "".
func (s *Service) trustedDevice(ctx context.Context, tenantID, mail, token string) (string, error) {
	if token == "" || len(token) > 128 || len(s.cfg.DeviceKey) == 0 {
		return "", nil
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", nil
	}
	nonce, e, sig := parts[0], parts[1], parts[2]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.deviceMAC("token", tenantID, mail, nonce, e)) {
		return "", nil
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || !s.cfg.Clock().Before(time.Unix(exp, 0)) {
		return "", nil
	}
	n, err := s.cfg.Store.Count(ctx, tenantID, counterKey("dev", nonce)+":revoked")
	if err != nil || n > 0 {
		return "", err
	}
	return nonce, nil
}

// deviceMAC is the HMAC of the parts under DeviceKey, each part ended by
// a zero byte so that no two lists of parts collide.
func (s *Service) deviceMAC(parts ...string) []byte {
	m := hmac.New(sha256.New, s.cfg.DeviceKey)
	m.Write([]byte("foyer device v1\x00"))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Mask keeps an address recognisable in the audit log without storing it
// whole: "a***@contoso.com".
func Mask(mail string) string {
	at := strings.LastIndexByte(mail, '@')
	if at <= 0 {
		return "***"
	}
	return mail[:1] + "***" + mail[at:]
}
