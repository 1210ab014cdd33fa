package templates

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Email is a rendered email: a one-line subject and two bodies.
type Email struct {
	// Subject never contains CR, LF or other control characters. It is
	// not encoded: the mailer applies RFC 2047 encoding when needed.
	Subject string
	// Text is the plain-text body.
	Text string
	// HTML is the HTML body.
	HTML string
}

// VerificationCodeEmail is the data of the email carrying a sign-up or
// email verification code.
type VerificationCodeEmail struct {
	// AppName is the display name of the app; may be empty.
	AppName string
	// Code is the verification code; required.
	Code string
	// MinutesValid is how long the code is valid; required (positive).
	MinutesValid int
}

// VerificationCode renders the verification code email. It returns an
// error if Code is empty or MinutesValid is not positive.
func (s *Set) VerificationCode(d VerificationCodeEmail) (Email, error) {
	d.AppName, d.Code = oneLine(d.AppName), oneLine(d.Code)
	if err := checkCode(d.Code, d.MinutesValid); err != nil {
		return Email{}, err
	}
	return s.verificationCode.render(d)
}

// AccountExistsEmail is the data of the email sent when someone tries to
// sign up with the address of an existing account (DESIGN.md section 2:
// the owner is told by email, the page does not reveal it).
type AccountExistsEmail struct {
	// AppName is the display name of the app; may be empty.
	AppName string
	// Email is the address the sign-up used (the recipient's); may be
	// empty.
	Email string
	// SignInURL is an absolute http or https URL of the sign-in page;
	// required.
	SignInURL string
	// ForgotPasswordURL is an absolute http or https URL of password
	// reset; no link when empty.
	ForgotPasswordURL string
}

// AccountExists renders the "you already have an account" email. It
// returns an error if SignInURL, or ForgotPasswordURL when set, is not an
// absolute http or https URL.
func (s *Set) AccountExists(d AccountExistsEmail) (Email, error) {
	d.AppName, d.Email = oneLine(d.AppName), oneLine(d.Email)
	d.SignInURL, d.ForgotPasswordURL = oneLine(d.SignInURL), oneLine(d.ForgotPasswordURL)
	if err := checkURL("SignInURL", d.SignInURL); err != nil {
		return Email{}, err
	}
	if d.ForgotPasswordURL != "" {
		if err := checkURL("ForgotPasswordURL", d.ForgotPasswordURL); err != nil {
			return Email{}, err
		}
	}
	return s.accountExists.render(d)
}

// PasswordResetEmail is the data of the email carrying a password reset
// code.
type PasswordResetEmail struct {
	// AppName is the display name of the app; may be empty.
	AppName string
	// Code is the reset code; required.
	Code string
	// MinutesValid is how long the code is valid; required (positive).
	MinutesValid int
}

// PasswordReset renders the password reset email. It returns an error if
// Code is empty or MinutesValid is not positive.
func (s *Set) PasswordReset(d PasswordResetEmail) (Email, error) {
	d.AppName, d.Code = oneLine(d.AppName), oneLine(d.Code)
	if err := checkCode(d.Code, d.MinutesValid); err != nil {
		return Email{}, err
	}
	return s.passwordReset.render(d)
}

func checkCode(code string, minutes int) error {
	if code == "" {
		return errors.New("templates: email without a code")
	}
	if minutes <= 0 {
		return fmt.Errorf("templates: code valid for %d minutes", minutes)
	}
	return nil
}

func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("templates: %s %q is not an absolute http(s) URL", field, s)
	}
	return nil
}

// oneLine returns s on a single line: control characters (CR and LF
// among them), Unicode line and paragraph separators and bidirectional
// embedding, override and isolate characters are removed or turned into
// spaces, runs of spaces collapse into one, and the ends are trimmed.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f':
			continue // bidi controls: dropped
		case unicode.IsControl(r), unicode.IsSpace(r), r == '\u2028', r == '\u2029':
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
