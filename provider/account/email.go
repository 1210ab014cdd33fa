package account

import (
	"strings"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/foyer-id/foyer/provider/fault"
)

// NormalizeEmail returns the one form under which an address is stored and
// looked up: Unicode NFC, lower case (local part included: Foyer treats
// addresses case-insensitively, as Entra does), and the domain in its
// ASCII (IDNA) form. It returns a fault of kind Invalid for anything that is
// not a plausible address.
func NormalizeEmail(s string) (string, error) {
	bad := fault.New(fault.Invalid, "invalidEmail", "Enter a valid email address.")
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
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '@' || r == '<' || r == '>' || r == '"' || r == ','
	}) {
		return "", bad
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") {
		return "", bad
	}
	return local + "@" + strings.ToLower(ascii), nil
}

// Domain returns the domain of a normalised address.
func Domain(email string) string {
	return email[strings.LastIndexByte(email, '@')+1:]
}
