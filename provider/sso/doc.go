// Package sso manages the browser's single sign-on session cookie: one
// cookie per tenant, named __Host-foyer-<tenant id> (HttpOnly, Secure,
// SameSite=Lax, Path=/, no Domain). The cookie holds a 256-bit random value;
// the store keeps only its SHA-256 (storage.Sessions).
//
// Secure (and with it the __Host- prefix, which requires it) is dropped only
// when Config.Insecure is set, which cmd/foyer does only in --dev with an
// http://localhost public URL: browsers refuse Secure cookies over plain
// http elsewhere.
package sso
