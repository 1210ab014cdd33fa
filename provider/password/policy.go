package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Length limits of DESIGN.md section 6, in Unicode code points after NFC
// normalisation.
const (
	// DefaultMinLength is the minimum length when Policy.MinLength is 0.
	DefaultMinLength = 15
	// LowestMinLength is the smallest minimum a tenant may configure.
	LowestMinLength = 8
	// MaxLength is the longest password accepted.
	MaxLength = 256
)

// minLocalPart is the shortest email local part Check looks for in a
// password; shorter ones ("jo") would refuse too many good passwords.
const minLocalPart = 3

// Reason is the stable code of a policy refusal, shown to users as a
// plain-language message and to admins as is.
type Reason string

// The reasons Policy.Check gives.
const (
	// ReasonTooShort means fewer code points than the policy's minimum.
	ReasonTooShort Reason = "passwordTooShort"
	// ReasonTooLong means more than MaxLength code points.
	ReasonTooLong Reason = "passwordTooLong"
	// ReasonCommon means the password is in the list of common passwords.
	ReasonCommon Reason = "passwordTooCommon"
	// ReasonContainsEmail means the password contains the local part of
	// the email address.
	ReasonContainsEmail Reason = "passwordContainsEmail"
)

// Sentinels matched by errors.Is against the *PolicyError of each Reason.
var (
	// ErrTooShort matches a ReasonTooShort refusal.
	ErrTooShort = errors.New("password: too short")
	// ErrTooLong matches a ReasonTooLong refusal.
	ErrTooLong = errors.New("password: too long")
	// ErrCommon matches a ReasonCommon refusal.
	ErrCommon = errors.New("password: too common")
	// ErrContainsEmail matches a ReasonContainsEmail refusal.
	ErrContainsEmail = errors.New("password: contains the email address")
)

// PolicyError is a password refused by Policy.Check. A fresh value is
// returned each time; it unwraps to the sentinel of its Reason.
type PolicyError struct {
	// Reason is the stable code of the refusal.
	Reason Reason
	// MinLength and MaxLength are the limits that applied, in code points,
	// so that a message can state them.
	MinLength, MaxLength int
}

// Error returns a lower-case description for logs.
func (e *PolicyError) Error() string {
	switch e.Reason {
	case ReasonTooShort:
		return fmt.Sprintf("password: shorter than %d characters", e.MinLength)
	case ReasonTooLong:
		return fmt.Sprintf("password: longer than %d characters", e.MaxLength)
	case ReasonCommon:
		return "password: in the list of common passwords"
	case ReasonContainsEmail:
		return "password: contains the email address"
	}
	return "password: refused (" + string(e.Reason) + ")"
}

// Unwrap returns the sentinel of e's Reason, or nil for an unknown one.
func (e *PolicyError) Unwrap() error {
	switch e.Reason {
	case ReasonTooShort:
		return ErrTooShort
	case ReasonTooLong:
		return ErrTooLong
	case ReasonCommon:
		return ErrCommon
	case ReasonContainsEmail:
		return ErrContainsEmail
	}
	return nil
}

// Policy is a tenant's password policy. The zero value is the default
// policy.
type Policy struct {
	// MinLength is the minimum length in code points, LowestMinLength to
	// MaxLength; 0 means DefaultMinLength.
	MinLength int
}

// Validate reports whether the policy's MinLength is 0 or within
// LowestMinLength..MaxLength.
func (p Policy) Validate() error {
	if p.MinLength != 0 && (p.MinLength < LowestMinLength || p.MinLength > MaxLength) {
		return fmt.Errorf("password: minimum length %d outside %d..%d", p.MinLength, LowestMinLength, MaxLength)
	}
	return nil
}

// minLength is the minimum in force: the default for 0, and a value out of
// range clamped into it, so a bad configuration never weakens the policy
// below LowestMinLength.
func (p Policy) minLength() int {
	switch {
	case p.MinLength == 0:
		return DefaultMinLength
	case p.MinLength < LowestMinLength:
		return LowestMinLength
	case p.MinLength > MaxLength:
		return MaxLength
	}
	return p.MinLength
}

// Check returns nil if pw is acceptable as a new password for the account
// with the given email address, and otherwise a *PolicyError. Lengths are
// counted in Unicode code points after NFC normalisation; comparisons are
// case-insensitive. The email's local part is only looked for when it has
// at least 3 code points; email may be empty.
func (p Policy) Check(pw, email string) error {
	pw = norm.NFC.String(pw)
	minLen := p.minLength()
	fail := func(r Reason) error {
		return &PolicyError{Reason: r, MinLength: minLen, MaxLength: MaxLength}
	}
	n := utf8.RuneCountInString(pw)
	if n < minLen {
		return fail(ReasonTooShort)
	}
	if n > MaxLength {
		return fail(ReasonTooLong)
	}
	lower := strings.ToLower(pw)
	if local := emailLocalPart(email); utf8.RuneCountInString(local) >= minLocalPart &&
		strings.Contains(lower, local) {
		return fail(ReasonContainsEmail)
	}
	if isCommon(lower) {
		return fail(ReasonCommon)
	}
	return nil
}

// emailLocalPart returns the NFC, lower-cased part of email before its last
// "@", or "" if there is none.
func emailLocalPart(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(norm.NFC.String(email[:i]))
}
