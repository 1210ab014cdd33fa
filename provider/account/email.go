package account

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/foyer-id/foyer/provider/fault"
)

// emailDomain is IDNA's lookup profile that also refuses empty labels and
// over-long names ("a@.example", "a@example..com").
var emailDomain = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true))

// NormalizeEmail returns the one form under which an address is stored and
// looked up: Unicode NFC, lower case (local part included: Foyer treats
// addresses case-insensitively, as Entra does), and the domain in its
// ASCII (IDNA) form. It returns a fault of kind Invalid for anything that is
// not a plausible address.
func NormalizeEmail(s string) (string, error) {
	bad := fault.New(fault.Invalid, "invalidEmail", "Enter a valid email address.")
	if !utf8.ValidString(s) {
		return "", bad
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	if len(s) > 254 {
		return "", bad
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", bad
	}
	local, domain := strings.ToLower(s[:at]), s[at+1:]
	if len(local) > 64 || strings.ContainsFunc(local, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '@' || r == '<' || r == '>' || r == '"' || r == ','
	}) {
		return "", bad
	}
	// A trailing dot (the DNS root) would make a second form of the
	// same mailbox.
	ascii, err := emailDomain.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") || strings.HasSuffix(ascii, ".") {
		return "", bad
	}
	addr := local + "@" + strings.ToLower(ascii)
	// One rule for what is an address: the one mail is sent with.
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		return "", bad
	}
	return addr, nil
}

// Domain returns the domain of a normalised address.
func Domain(email string) string {
	return email[strings.LastIndexByte(email, '@')+1:]
}
