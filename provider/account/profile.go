package account

import (
	"context"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// ProfileField is one property a user may change on their own profile
// (seed 003: "The following properties are updatable").
type ProfileField struct {
	// Name is the Graph property name; Label its plain-language label.
	Name, Label string
	// Check normalises a value (NFC text, canonical language tag) or says
	// what is wrong with it.
	Check func(string) (normalized, problem string)
	// Required fields may not be emptied.
	Required bool
}

// SelfUpdatable lists the ten self-updatable properties of seed 003, in the
// order pages show them, with Graph's documented maximum lengths.
var SelfUpdatable = []ProfileField{
	{"displayName", "Display name", Text(256, false), true},
	{"givenName", "Given name", Text(64, true), false},
	{"surname", "Surname", Text(64, true), false},
	{"jobTitle", "Job title", Text(128, true), false},
	{"streetAddress", "Street address", Text(1024, true), false},
	{"city", "City", Text(128, true), false},
	{"state", "State or province", Text(128, true), false},
	{"postalCode", "Postal code", Text(40, true), false},
	{"country", "Country or region", Text(128, true), false},
	{"preferredLanguage", "Preferred language", LanguageTag, false},
}

// SelfUpdatableField returns the field named name (exact case).
func SelfUpdatableField(name string) (ProfileField, bool) {
	for _, f := range SelfUpdatable {
		if f.Name == name {
			return f, true
		}
	}
	return ProfileField{}, false
}

// ForbiddenRune reports characters no text property may hold: control
// characters (C0, DEL, C1), line and paragraph separators, and the bidi
// embedding, override and isolate controls that make text display other
// than it reads.
func ForbiddenRune(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		('\u202A' <= r && r <= '\u202E') || ('\u2066' <= r && r <= '\u2069')
}

// Text returns the check of a text property of at most max characters
// (Unicode code points after NFC normalisation, which is what is stored).
func Text(max int, allowEmpty bool) func(string) (string, string) {
	return func(s string) (string, string) {
		if !utf8.ValidString(s) {
			return "", "is not valid UTF-8"
		}
		s = norm.NFC.String(s)
		if strings.ContainsFunc(s, ForbiddenRune) {
			return "", "may not contain control characters"
		}
		if n := utf8.RuneCountInString(s); n > max {
			return "", "is longer than " + strconv.Itoa(max) + " characters"
		}
		if !allowEmpty && strings.TrimSpace(s) == "" {
			return "", "may not be empty"
		}
		return s, ""
	}
}

// maxLanguageTag bounds a preferredLanguage value (RFC 5646 section 4.4.1
// recommends room for 35 characters; private-use tags may be longer).
const maxLanguageTag = 64

// LanguageTag checks a BCP 47 language tag and returns its canonical form
// ("" clears the property).
func LanguageTag(s string) (string, string) {
	if s == "" {
		return "", ""
	}
	if len(s) > maxLanguageTag || strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-')
	}) {
		return "", "is not a BCP 47 language tag"
	}
	t, err := language.Parse(s)
	if err != nil {
		return "", "is not a valid BCP 47 language tag"
	}
	return t.String(), ""
}

// ProfileValue returns a pointer to the stored value of a self-updatable
// property of u, or nil for any other name.
func ProfileValue(u *storage.User, name string) *string {
	switch name {
	case "displayName":
		return &u.DisplayName
	case "givenName":
		return &u.GivenName
	case "surname":
		return &u.Surname
	case "jobTitle":
		return &u.JobTitle
	case "streetAddress":
		return &u.StreetAddress
	case "city":
		return &u.City
	case "state":
		return &u.State
	case "postalCode":
		return &u.PostalCode
	case "country":
		return &u.Country
	case "preferredLanguage":
		return &u.PreferredLanguage
	}
	return nil
}

// ProfileStore updates users.
type ProfileStore interface {
	UpdateUser(ctx context.Context, tenantID, userID string, fn func(*storage.User) error) (storage.User, error)
}

// UpdateProfile checks every value of changes (self-updatable names only)
// and, only if all are valid, writes them in one compare-and-swap. It
// returns a fault of kind Invalid naming the first property at fault, with
// nothing written.
func UpdateProfile(ctx context.Context, store ProfileStore, tenantID, userID string, changes map[string]string) (storage.User, error) {
	clean := make(map[string]string, len(changes))
	for _, f := range SelfUpdatable {
		v, ok := changes[f.Name]
		if !ok {
			continue
		}
		n, problem := f.Check(v)
		if problem != "" {
			return storage.User{}, fault.New(fault.Invalid, "invalidValue", f.Label+" "+problem+".")
		}
		clean[f.Name] = n
	}
	for name := range changes {
		if _, ok := clean[name]; !ok {
			return storage.User{}, fault.New(fault.Invalid, "notUpdatable", "The property "+name+" cannot be updated.")
		}
	}
	return store.UpdateUser(ctx, tenantID, userID, func(u *storage.User) error {
		for name, v := range clean {
			*ProfileValue(u, name) = v
		}
		return nil
	})
}
