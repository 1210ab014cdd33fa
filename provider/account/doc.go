// Package account holds what end users do with their accounts. This file
// set covers signing in with email and password; sign-up, profile and
// password changes build on it.
//
// Sign-in answers "email or password is incorrect" for an unknown email and
// for a wrong password alike, and spends the same argon2id time on both (a
// dummy hash for unknown users). Failed attempts are counted atomically in
// Redis per address and per client IP, incremented before the password is
// checked: after MaxAccountFailures failures in the window an address is
// locked for 1 s, then 2 s, 4 s, … up to MaxLockout, per further failure;
// an IP is locked likewise after MaxIPFailures. A successful sign-in takes
// its own attempt back from the IP's count, so many people behind one
// address (an office) never lock it; only failures add up. Locks are keyed by the
// normalised address, so unknown and known addresses behave the same.
package account
