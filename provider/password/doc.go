// Package password hashes and verifies passwords with argon2id and checks
// new passwords against Foyer's password policy (DESIGN.md section 6).
//
// # Hashes
//
// A Hasher derives keys with argon2id (golang.org/x/crypto/argon2) and
// encodes them in the PHC string format, parameters included:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// where salt and key are standard base64 without padding. Because the
// parameters travel with the hash, they can be raised later: Verify always
// uses the parameters stored in the hash, and NeedsRehash reports a hash
// whose parameters are below the Hasher's, so the caller can store a fresh
// Hash after a successful sign-in. The defaults are OWASP's first argon2id
// profile (m=19456 KiB, t=2, p=1) with a 16-byte salt and a 32-byte key;
// on the project's development machine one hash costs about 20 ms of CPU
// and 19 MiB of memory.
//
// Passwords are normalised to Unicode NFC before hashing (as RFC 8265's
// OpaqueString profile does), so the same password typed on systems that
// compose characters differently verifies. That is part of the stored-hash
// contract and must not change.
//
// A Hasher runs at most Config.Concurrency derivations at once (by default
// the number of CPUs); further calls wait for a slot, or return the
// context's error if it ends first. Load therefore queues instead of
// exhausting memory. Stored hashes with absurd parameters (more than
// MaxMemory, MaxTime or MaxParallelism, or odd salt and key lengths) are
// refused with ErrUnsupportedHash before any work is done, so a planted
// hash cannot be used to exhaust the server. Malformed hashes are refused
// with ErrMalformedHash; no input makes the parser panic.
//
// VerifyDummy costs the same as a Verify of a hash made with the Hasher's
// parameters; sign-in calls it for unknown accounts so that timing does not
// reveal whether an account exists.
//
// # Policy
//
// Policy.Check applies the rules of DESIGN.md section 6 to a new password:
// a length of MinLength (default 15, per tenant 8 to 256) to MaxLength (256)
// Unicode code points after NFC normalisation, not in the embedded list of
// common passwords, and not containing the local part of the user's email
// address. There are no composition rules. Every refusal is a *PolicyError
// whose Reason is a stable code; errors.Is matches it against ErrTooShort,
// ErrTooLong, ErrCommon and ErrContainsEmail.
package password
