package email

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message is one email to one recipient. Subject, Text and HTML are what
// templates.Email renders; To is the recipient's address.
type Message struct {
	// To is the recipient: one bare address such as "alice@example.com",
	// without a display name, angle brackets or comments.
	To string `json:"to"`
	// Subject is one line of text; it must not contain CR, LF or any
	// other control character. The SMTP sender applies RFC 2047 encoding.
	Subject string `json:"subject"`
	// Text is the plain-text body; required.
	Text string `json:"text"`
	// HTML is the HTML body; when empty the message has a text body only.
	HTML string `json:"html"`
}

// Sender delivers messages. Consumers declare the same one-method
// interface where they use it.
type Sender interface {
	// Send delivers m, or returns an error and delivers nothing it can
	// take back. It returns an error wrapping ErrInvalidMessage, before
	// any network traffic, if m is not well formed (see Message), and an
	// error wrapping ErrSend if the message could not be handed over,
	// in which case the user may be told to try again later.
	Send(ctx context.Context, m Message) error
}

var (
	// ErrSend is wrapped by the errors of a failed delivery: the mail
	// server is unreachable, refused the credentials, the TLS handshake
	// failed, the context ended, and so on. The message may be retried.
	ErrSend = errors.New("email: message not sent")

	// ErrInvalidMessage is wrapped by the errors of a message that no
	// sender accepts: a recipient that is not one bare address, a
	// subject with control characters, an empty body. Retrying is
	// pointless.
	ErrInvalidMessage = errors.New("email: invalid message")
)

const (
	maxAddressLen = 254 // RFC 5321 path limit less the angle brackets
	maxSubjectLen = 998 // RFC 5322 line limit; longer subjects are not ours
)

// validate checks the fields that end up in headers or in the envelope.
// go-mail encodes headers too; this is the first line of defence and the
// one every Sender shares, so a message the dev sinks accept is also one
// the SMTP sender accepts.
func (m Message) validate() error {
	if err := checkAddress(m.To); err != nil {
		return err
	}
	switch {
	case m.Subject == "":
		return fmt.Errorf("%w: empty subject", ErrInvalidMessage)
	case len(m.Subject) > maxSubjectLen:
		return fmt.Errorf("%w: subject longer than %d bytes", ErrInvalidMessage, maxSubjectLen)
	case !oneLine(m.Subject):
		return fmt.Errorf("%w: subject is not a single line of valid UTF-8 without control characters", ErrInvalidMessage)
	case m.Text == "":
		return fmt.Errorf("%w: empty text body", ErrInvalidMessage)
	}
	return nil
}

// checkAddress accepts one bare address: the whole string must be what
// net/mail parses as the address itself, so display names, angle
// brackets, comments, quoted local parts and lists are all refused.
func checkAddress(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty recipient", ErrInvalidMessage)
	}
	if len(s) > maxAddressLen || !oneLine(s) {
		return fmt.Errorf("%w: recipient is not a bare address", ErrInvalidMessage)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, " <>\"(),;:\\[]") {
		return fmt.Errorf("%w: recipient is not a bare address", ErrInvalidMessage)
	}
	return nil
}

// oneLine reports whether s is valid UTF-8 without control characters
// (CR, LF, tab, NUL, DEL and C1 among them) and without Unicode line or
// paragraph separators.
func oneLine(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	})
}
