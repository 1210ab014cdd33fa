package account

import (
	"errors"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/provider/fault"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "user@contoso.com", "user@contoso.com"},
		{"upper case local part and domain", "User@Contoso.COM", "user@contoso.com"},
		{"surrounding spaces", " \tuser@contoso.com\n", "user@contoso.com"},
		{"plus and dots", "first.last+tag@mail.contoso.com", "first.last+tag@mail.contoso.com"},
		{"IDN domain", "a@bücher.example", "a@xn--bcher-kva.example"},
		{"IDN domain, upper case", "a@BÜCHER.example", "a@xn--bcher-kva.example"},
		{"IDN domain, NFD", "a@bu\u0308cher.example", "a@xn--bcher-kva.example"},
		{"IDN domain, already ASCII", "a@XN--BCHER-KVA.example", "a@xn--bcher-kva.example"},
		{"non-ASCII local part, NFC", "caf\u00e9@contoso.com", "caf\u00e9@contoso.com"},
		{"non-ASCII local part, NFD", "cafe\u0301@contoso.com", "caf\u00e9@contoso.com"},
		{"non-ASCII local part, upper case", "CAF\u00c9@contoso.com", "caf\u00e9@contoso.com"},
		{"64-character local part", strings.Repeat("a", 64) + "@contoso.com", strings.Repeat("a", 64) + "@contoso.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeEmail(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			// Normalising is idempotent.
			if again, err := NormalizeEmail(got); err != nil || again != got {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; not idempotent", got, again, err)
			}
		})
	}

	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"blank", "   "},
		{"no @", "user.contoso.com"},
		{"nothing before @", "@contoso.com"},
		{"nothing after @", "user@"},
		{"domain without a dot", "user@contoso"},
		{"localhost", "user@localhost"},
		{"space in the local part", "us er@contoso.com"},
		{"no-break space in the local part", "us\u00a0er@contoso.com"},
		{"tab in the local part", "us\ter@contoso.com"},
		{"line feed in the local part", "us\ner@contoso.com"},
		{"NUL in the local part", "us\x00er@contoso.com"},
		{"DEL in the local part", "us\x7fer@contoso.com"},
		{"line separator in the local part", "us\u2028er@contoso.com"},
		{"space in the domain", "user@con toso.com"},
		{"control character in the domain", "user@con\x01toso.com"},
		{"NUL at the end", "user@contoso.com\x00"},
		{"two @", "a@b@contoso.com"},
		{"angle brackets", "<user@contoso.com>"},
		{"display name", "User <user@contoso.com>"},
		{"quoted local part", `"user"@contoso.com`},
		{"comma", "a,b@contoso.com"},
		{"underscore in the domain", "user@con_toso.com"},
		{"label starting with a hyphen", "user@-contoso.com"},
		{"address literal", "user@[192.0.2.1]"},
		{"65-character local part", strings.Repeat("a", 65) + "@contoso.com"},
		{"longer than 254", "a@" + strings.Repeat("b", 250) + ".com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeEmail(tc.in)
			if err == nil {
				t.Fatalf("NormalizeEmail(%q) = %q, want an error", tc.in, got)
			}
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Code != "invalidEmail" {
				t.Fatalf("NormalizeEmail(%q): %v; want a fault of kind Invalid, code invalidEmail", tc.in, err)
			}
		})
	}

	t.Run("User@Contoso.COM is user@contoso.com", func(t *testing.T) {
		a, errA := NormalizeEmail("User@Contoso.COM")
		b, errB := NormalizeEmail("user@contoso.com")
		if errA != nil || errB != nil || a != b {
			t.Fatalf("%q (%v) != %q (%v)", a, errA, b, errB)
		}
	})
}

// TestNormalizeEmailOneFormPerMailbox checks that spellings a mail system
// delivers to the same mailbox as user@contoso.com, or that look the same
// on screen, never normalise to a second, different address: such a form
// is a second account for one mailbox (sign-up) and a second lockout
// counter for one address. Each must either be rejected or normalise to
// user@contoso.com.
func TestNormalizeEmailOneFormPerMailbox(t *testing.T) {
	canonical, err := NormalizeEmail("user@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, in string }{
		{"trailing dot in the domain (DNS root)", "user@contoso.com."},
		{"leading dot in the domain", "user@.contoso.com"},
		{"empty label in the domain", "user@contoso..com"},
		{"zero-width space in the local part", "us\u200ber@contoso.com"},
		{"soft hyphen in the local part", "us\u00ader@contoso.com"},
		{"word joiner in the local part", "us\u2060er@contoso.com"},
		{"byte-order mark in the local part", "\ufeffuser@contoso.com"},
		{"right-to-left override in the local part", "\u202eresu@contoso.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeEmail(tc.in)
			if err == nil && got != canonical {
				t.Fatalf("NormalizeEmail(%q) = %q: a second form of %s", tc.in, got, canonical)
			}
		})
	}
}

// TestNormalizeEmailRejectsInvalidUTF8: bytes that are not UTF-8 must not
// turn into U+FFFD (so that different inputs collide) or into the
// punycode of U+FFFD, a label IDNA forbids.
func TestNormalizeEmailRejectsInvalidUTF8(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"in the local part", "us\xc1er@contoso.com"},
		{"another byte in the local part", "us\xffer@contoso.com"},
		{"in the domain", "user@con\xc1toso.com"},
		{"at the end", "user@contoso.com\xc1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := NormalizeEmail(tc.in); err == nil {
				t.Fatalf("NormalizeEmail(%q) = %q, want an error", tc.in, got)
			}
		})
	}
}

func TestDomain(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user@contoso.com", "contoso.com"},
		{"a@xn--bcher-kva.example", "xn--bcher-kva.example"},
	} {
		if got := Domain(tc.in); got != tc.want {
			t.Errorf("Domain(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"user@contoso.com", "User@Contoso.COM", "a@bücher.example", "cafe\u0301@x.example", "a@b", "@", "",
		"0@.\xc1"} { // found by fuzzing: "0@.xn--zn7c", which does not normalise again
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		if again, err := NormalizeEmail(got); err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, but NormalizeEmail(%q) = %q, %v", s, got, got, again, err)
		}
		if strings.Count(got, "@") != 1 || len(got) > 254 || got != strings.TrimSpace(got) {
			t.Fatalf("NormalizeEmail(%q) = %q", s, got)
		}
		if d := Domain(got); d != strings.ToLower(d) || !strings.Contains(d, ".") {
			t.Fatalf("NormalizeEmail(%q) = %q: domain %q", s, got, d)
		}
	})
}
