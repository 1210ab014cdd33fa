// Package web serves the browser pages of a tenant: sign-in, the logout
// confirmation, and the signed-out page.
//
// Pages are protected as browser routes: every form carries a CSRF token
// that is an HMAC of a per-browser __Host- cookie (SameSite=Strict) and of
// the flow the form belongs to, so neither a cross-site form nor a token
// lifted from another browser is accepted; every response has a strict
// Content-Security-Policy with frame-ancestors 'none', nosniff, no-referrer
// and no-store. Form bodies are bounded (64 KiB).
//
// Sign-in completes a pending authorization request (created by the
// protocol layer) and hands the browser back to the authorization
// endpoint's callback, which issues the code. An SSO session cookie per
// tenant lets later requests skip the form unless prompt=login or max_age
// demands a fresh sign-in; prompt=none without a usable session answers
// login_required to the app. An authorization request with prompt=create
// opens sign-up, unless the link says the person has an account
// (signup.SignInURL: the sign-up page's "I already have an account" and the
// "you already have an account" mail), which opens the sign-in form of the
// same request.
//
// A successful sign-in leaves a device cookie for the address
// (__Host-foyer-device-<slot>, HttpOnly, Secure, SameSite=Strict; see
// provider/account): the browser's later attempts for that address are
// not subject to the address's lock that failures from elsewhere set.
package web
