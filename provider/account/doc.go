// Package account holds what end users do with their accounts. This file
// set covers signing in with email and password; sign-up, profile and
// password changes build on it.
//
// Sign-in answers "email or password is incorrect" for an unknown email and
// for a wrong password alike, and spends the same argon2id time on both (a
// dummy hash for unknown users). Failed attempts are counted atomically in
// Redis per address and per client IP, incremented before the password is
// checked: after MaxAccountFailures failures in the window an address is
// locked for FirstLock (1 s), then 2 s, 4 s, … up to MaxLockout, per further failure;
// an IP is locked likewise after MaxIPFailures. A successful sign-in takes
// its own attempt back from the IP's count, so many people behind one
// address (an office) never lock it; only failures add up. Locks are keyed by the
// normalised address, so unknown and known addresses behave the same.
//
// # Device tokens
//
// A lock per address lets anyone lock its owner out. So a successful
// sign-in returns a device token (OWASP's "device cookies"; the web layer
// keeps it in a __Host-, HttpOnly, SameSite=Strict cookie named by
// DeviceSlot): a random nonce and an expiry (DeviceLifetime, 90 days)
// under an HMAC of the tenant and the address. An attempt that carries a
// valid token of its address skips the address's lock and counter: its
// failures are counted per token, with the same growing lock, and after
// MaxDeviceFailures (5) the token is revoked for its lifetime and counts as
// none. The IP's limit applies to every attempt. A success with a token
// leaves the address's count alone (the failures from elsewhere stand).
//
// Every lock a failure leaves is an audit event (signInLocked, with its
// scope, count and lockedUntil), so is the revocation of a device token
// (signInDeviceRevoked), and the success that a lock admitted ends it
// (signInUnlocked).
package account
