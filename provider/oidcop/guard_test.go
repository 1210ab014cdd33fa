package oidcop

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestValidChallenge(t *testing.T) {
	s256 := func(verifier string) string {
		h := sha256.Sum256([]byte(verifier))
		return base64.RawURLEncoding.EncodeToString(h[:])
	}
	// RFC 7636 appendix B.
	const rfc = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != rfc {
		t.Fatalf("test helper: S256 = %s, want %s", got, rfc)
	}
	for _, tc := range []struct {
		name, in string
		want     bool
	}{
		{"RFC 7636 example", rfc, true},
		{"S256 of a verifier", s256(strings.Repeat("v", 64)), true},
		{"all of the alphabet's edges", "AZaz09-_" + strings.Repeat("A", 35), true},
		{"empty", "", false},
		{"42 characters", rfc[:42], false},
		{"44 characters", rfc + "A", false},
		{"padded", rfc + "=", false},
		{"plain verifier (43 or more characters)", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" + "x", false},
		{"standard base64 '+'", "+" + rfc[1:], false},
		{"standard base64 '/'", rfc[:42] + "/", false},
		{"'='", "=" + rfc[1:], false},
		{"'.'", "." + rfc[1:], false},
		{"space", " " + rfc[1:], false},
		{"NUL", "\x00" + rfc[1:], false},
		{"percent-encoding", "%41" + rfc[3:], false},
		{"non-ASCII letter, 43 bytes", "é" + rfc[2:], false},
		{"fullwidth letter, 43 bytes", "Ａ" + rfc[3:], false},
		{"hex SHA-256 (64 characters)", strings.Repeat("ab", 32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validChallenge(tc.in); got != tc.want {
				t.Fatalf("validChallenge(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
