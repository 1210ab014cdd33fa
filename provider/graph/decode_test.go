package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// wantBadRequest fails unless err is a 400 fault whose message contains
// each of parts.
func wantBadRequest(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted")
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || status(err) != http.StatusBadRequest {
		t.Fatalf("error %v: want a 400 fault", err)
	}
	for _, p := range parts {
		if !strings.Contains(fe.Message, p) {
			t.Fatalf("message %q does not contain %q", fe.Message, p)
		}
	}
}

func TestDecodeUserPatch(t *testing.T) {
	body := `{"city":"Paris","country":null,"displayName":"Ada Lovelace","givenName":"Ada","jobTitle":"Analyst",` +
		`"postalCode":"75001","state":"IDF","streetAddress":"1 rue de Rivoli","surname":"Lovelace","preferredLanguage":"EN-gb"}`
	p, err := decodeUserPatch([]byte(body), selfPatch)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"city": "Paris", "country": "", "displayName": "Ada Lovelace", "givenName": "Ada",
		"jobTitle": "Analyst", "postalCode": "75001", "state": "IDF", "streetAddress": "1 rue de Rivoli",
		"surname": "Lovelace", "preferredLanguage": "en-GB"}
	if len(p.text) != len(want) || p.accountEnabled != nil {
		t.Fatalf("patch %+v", p)
	}
	for k, v := range want {
		if p.text[k] != v {
			t.Errorf("%s = %q, want %q", k, p.text[k], v)
		}
	}
	u := storage.User{City: "Lyon", Country: "FR"}
	changed := p.apply(&u)
	if u.City != "Paris" || u.Country != "" || u.PreferredLanguage != "en-GB" || changed["city"] != "Lyon -> Paris" {
		t.Fatalf("applied: %+v, changed %v", u, changed)
	}

	t.Run("empty object", func(t *testing.T) {
		p, err := decodeUserPatch([]byte(" {} \n"), selfPatch)
		if err != nil || !p.empty() {
			t.Fatalf("%+v, %v", p, err)
		}
	})
	t.Run("NFC", func(t *testing.T) {
		p, err := decodeUserPatch([]byte(`{"city":"Montre\u0301al"}`), selfPatch)
		if err != nil || p.text["city"] != "Montr\u00e9al" {
			t.Fatalf("%q, %v", p.text["city"], err)
		}
	})
	t.Run("escaped key is the same key", func(t *testing.T) {
		p, err := decodeUserPatch([]byte(`{"ci\u0074y":"Paris"}`), selfPatch)
		if err != nil || p.text["city"] != "Paris" {
			t.Fatalf("%+v, %v", p, err)
		}
	})
	t.Run("admin schema: accountEnabled", func(t *testing.T) {
		p, err := decodeUserPatch([]byte(`{"accountEnabled":false,"city":"Oslo"}`), adminPatch)
		if err != nil || p.accountEnabled == nil || *p.accountEnabled || p.text["city"] != "Oslo" {
			t.Fatalf("%+v, %v", p, err)
		}
	})
}

func TestDecodeUserPatchRefuses(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name, body string
		parts      []string
	}{
		{"empty body", ``, []string{"empty"}},
		{"blank body", " \n\t", []string{"empty"}},
		{"array", `[]`, []string{"JSON object"}},
		{"string", `"x"`, []string{"JSON object"}},
		{"number", `42`, []string{"JSON object"}},
		{"null", `null`, []string{"JSON object"}},
		{"true", `true`, []string{"JSON object"}},
		{"two objects", `{"city":"a"}{}`, []string{"after the JSON object"}},
		{"object then garbage", `{} x`, []string{"after the JSON object"}},
		{"object then comma", `{},`, []string{"after the JSON object"}},
		{"unknown property", `{"a":1}`, []string{"'a'", "does not exist"}},
		{"unknown property after a good one", `{"city":"x","favouriteColour":"red"}`, []string{"'favouriteColour'"}},
		{"duplicate key", `{"city":"a","city":"b"}`, []string{"'city'", "more than once"}},
		{"duplicate key, escaped", `{"city":"a","ci\u0074y":"b"}`, []string{"'city'", "more than once"}},
		{"number for a string", `{"city":1}`, []string{"'city'", "string"}},
		{"bool for a string", `{"surname":true}`, []string{"'surname'", "string"}},
		{"nested object", `{"city":{"name":"Paris"}}`, []string{"'city'", "string"}},
		{"array for a string", `{"city":["Paris"]}`, []string{"'city'", "string"}},
		{"null displayName", `{"displayName":null}`, []string{"'displayName'", "null"}},
		{"empty displayName", `{"displayName":""}`, []string{"'displayName'", "empty"}},
		{"blank displayName", `{"displayName":"   "}`, []string{"'displayName'", "empty"}},
		{"displayName of 10,000 characters", `{"displayName":"` + long(10000) + `"}`, []string{"'displayName'", "256"}},
		{"displayName of 257 characters", `{"displayName":"` + long(257) + `"}`, []string{"'displayName'"}},
		{"givenName of 65", `{"givenName":"` + long(65) + `"}`, []string{"'givenName'", "64"}},
		{"surname of 65", `{"surname":"` + long(65) + `"}`, []string{"'surname'"}},
		{"jobTitle of 129", `{"jobTitle":"` + long(129) + `"}`, []string{"'jobTitle'"}},
		{"city of 129", `{"city":"` + long(129) + `"}`, []string{"'city'"}},
		{"country of 129", `{"country":"` + long(129) + `"}`, []string{"'country'"}},
		{"postalCode of 41", `{"postalCode":"` + long(41) + `"}`, []string{"'postalCode'"}},
		{"state of 129", `{"state":"` + long(129) + `"}`, []string{"'state'"}},
		{"streetAddress of 1025", `{"streetAddress":"` + long(1025) + `"}`, []string{"'streetAddress'"}},
		{"NUL", `{"city":"Pa\u0000ris"}`, []string{"'city'", "control"}},
		{"line feed", `{"displayName":"Ada\nLovelace"}`, []string{"'displayName'", "control"}},
		{"tab", `{"surname":"a\tb"}`, []string{"'surname'", "control"}},
		{"DEL", `{"city":"a` + "\x7f" + `b"}`, []string{"'city'", "control"}},
		{"C1", `{"city":"a\u0085b"}`, []string{"'city'", "control"}},
		{"line separator", `{"city":"a\u2028b"}`, []string{"'city'"}},
		{"right-to-left override", `{"displayName":"\u202eevil"}`, []string{"'displayName'"}},
		{"not a language tag", `{"preferredLanguage":"english please"}`, []string{"'preferredLanguage'"}},
		{"underscore language tag", `{"preferredLanguage":"en_US"}`, []string{"'preferredLanguage'"}},
		{"ill-formed language tag", `{"preferredLanguage":"en-"}`, []string{"'preferredLanguage'"}},
		{"language tag too long", `{"preferredLanguage":"en-` + strings.Repeat("abcdefgh-", 10) + `x"}`, []string{"'preferredLanguage'"}},
		{"number for a language", `{"preferredLanguage":5}`, []string{"'preferredLanguage'"}},
		{"invalid UTF-8", "{\"city\":\"\xc1\"}", []string{"UTF-8"}},
		{"truncated", `{"city":"Paris"`, []string{"well-formed"}},
		{"missing colon", `{"city" "Paris"}`, []string{"well-formed"}},
		{"trailing comma", `{"city":"Paris",}`, []string{"well-formed"}},
		{"single quotes", `{'city':'Paris'}`, []string{"well-formed"}},
		{"comment", `{/* */"city":"Paris"}`, []string{"well-formed"}},
		{"bare word", `{"city":Paris}`, []string{"well-formed"}},
		{"byte-order mark", "\ufeff{}", []string{"well-formed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := decodeUserPatch([]byte(tc.body), selfPatch)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			wantBadRequest(t, err, tc.parts...)
		})
	}
}

// TestDecodeUserPatchNonUpdatable: every property a user cannot set, and
// case variants of those they can, are refused naming the property, even
// beside valid ones.
func TestDecodeUserPatchNonUpdatable(t *testing.T) {
	names := []string{"userType", "mail", "creationType", "id", "identities", "accountEnabled", "passwordProfile",
		"createdDateTime", "userPrincipalName", "externalUserState", "otherMails", "mailNickname", "roles",
		"UserType", "USERTYPE", "usertype", "Mail", "ID", "Id", "AccountEnabled", "UserPrincipalName",
		"DisplayName", "DISPLAYNAME", "displayname", "City", "CITY", "PreferredLanguage", "surName", "givenname",
		"", " city", "city ", "city\u0000"}
	for _, name := range names {
		for _, v := range []string{`"x"`, `null`, `true`, `{"a":1}`, `["Member"]`} {
			k, _ := json.Marshal(name)
			body := `{"city":"Paris",` + string(k) + `:` + v + `}`
			p, err := decodeUserPatch([]byte(body), selfPatch)
			if err == nil {
				t.Fatalf("%s accepted: %+v", body, p)
			}
			wantBadRequest(t, err, "'"+strings.ReplaceAll(name, "\u0000", "\uFFFD")+"'")
		}
	}
	// Known properties say so.
	_, err := decodeUserPatch([]byte(`{"userType":"Guest"}`), selfPatch)
	wantBadRequest(t, err, "'userType'", "cannot be updated")
	_, err = decodeUserPatch([]byte(`{"DisplayName":"x"}`), selfPatch)
	wantBadRequest(t, err, "'DisplayName'", "case-sensitive", "'displayName'")
	// accountEnabled is an administrator's, and a bool.
	_, err = decodeUserPatch([]byte(`{"accountEnabled":"false"}`), adminPatch)
	wantBadRequest(t, err, "'accountEnabled'", "true or false")
	_, err = decodeUserPatch([]byte(`{"accountEnabled":null}`), adminPatch)
	wantBadRequest(t, err, "'accountEnabled'", "null")
}

func TestDecodeNested(t *testing.T) {
	f, err := decodeBody([]byte(`{"defaultUserRolePermissions":{"allowedToReadOtherUsers":true},"allowedToUseSSPR":false}`), policyBody)
	if err != nil {
		t.Fatal(err)
	}
	if !f["defaultUserRolePermissions"].obj["allowedToReadOtherUsers"].b || f["allowedToUseSSPR"].b {
		t.Fatalf("%+v", f)
	}
	for _, tc := range []struct{ body, part string }{
		{`{"defaultUserRolePermissions":{"AllowedToReadOtherUsers":true}}`, "'defaultUserRolePermissions.AllowedToReadOtherUsers'"},
		{`{"defaultUserRolePermissions":{"allowedToReadOtherUsers":1}}`, "'defaultUserRolePermissions.allowedToReadOtherUsers'"},
		{`{"defaultUserRolePermissions":{"x":{"y":{}}}}`, "'defaultUserRolePermissions.x'"},
		{`{"defaultUserRolePermissions":true}`, "'defaultUserRolePermissions'"},
		{`{"defaultUserRolePermissions":null}`, "'defaultUserRolePermissions'"},
		{`{"allowInvitesFrom":"anyone"}`, "'allowInvitesFrom'"},
		{`{"allowInvitesFrom":null}`, "'allowInvitesFrom'"},
		{`{"blockMsolPowerShell":true}`, "cannot be updated"},
		{`{"allowedToUseSSPR":"true"}`, "'allowedToUseSSPR'"},
		{`{"allowedToUseSSPR":true,"allowedToUseSSPR":false}`, "more than once"},
	} {
		_, err := decodeBody([]byte(tc.body), policyBody)
		wantBadRequest(t, err, tc.part)
	}
	_, err = decodeBody([]byte(`{"newPassword":"x"}`), changePasswordBody)
	wantBadRequest(t, err, "'currentPassword'", "required")
}

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name, ct string
		body     string
		length   int64 // -1: unknown (chunked)
		want     int
	}{
		{"json", "application/json", `{}`, 2, 0},
		{"json utf-8", "application/json; charset=utf-8", `{}`, 2, 0},
		{"json UTF-8 quoted", `application/json; charset="UTF-8"`, `{}`, 2, 0},
		{"no content type", "", `{}`, 2, http.StatusUnsupportedMediaType},
		{"text/plain", "text/plain", `{}`, 2, http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", `{}`, 2, http.StatusUnsupportedMediaType},
		{"json latin-1", "application/json; charset=iso-8859-1", `{}`, 2, http.StatusUnsupportedMediaType},
		{"json with another parameter", "application/json; odata=verbose", `{}`, 2, http.StatusUnsupportedMediaType},
		{"json-seq", "application/json-seq", `{}`, 2, http.StatusUnsupportedMediaType},
		{"malformed", "application/json;;", `{}`, 2, http.StatusUnsupportedMediaType},
		{"64 KiB", "application/json", strings.Repeat(" ", maxBody), maxBody, 0},
		{"64 KiB + 1, by Content-Length", "application/json", strings.Repeat(" ", maxBody+1), maxBody + 1, http.StatusRequestEntityTooLarge},
		{"1 MiB, by Content-Length", "application/json", strings.Repeat(" ", 1<<20), 1 << 20, http.StatusRequestEntityTooLarge},
		{"1 MiB, chunked", "application/json", strings.Repeat(" ", 1<<20), -1, http.StatusRequestEntityTooLarge},
		{"1 MiB, Content-Length understated", "application/json", strings.Repeat(" ", 1<<20), 10, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPatch, "/v1.0/me", strings.NewReader(tc.body))
			r.ContentLength = tc.length
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			_, err := readBody(httptest.NewRecorder(), r)
			if tc.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := status(err); got != tc.want {
				t.Fatalf("status %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}

func TestLanguageTag(t *testing.T) {
	for in, want := range map[string]string{
		"en": "en", "EN-us": "en-US", "fr-CA": "fr-CA", "zh-Hant-TW": "zh-Hant-TW", "sr-Latn": "sr-Latn",
		"de-CH-1996": "de-CH-1996", "es-419": "es-419", "": "",
	} {
		got, problem := account.LanguageTag(in)
		if problem != "" || got != want {
			t.Errorf("languageTag(%q) = %q, %q; want %q", in, got, problem, want)
		}
	}
	for _, in := range []string{"english", "en US", "en_US", "-en", "en--US", "123", "e", "en-US-"} {
		if got, problem := account.LanguageTag(in); problem == "" {
			t.Errorf("languageTag(%q) = %q, want a refusal", in, got)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		ok      bool
		noToken bool
	}{
		{"bearer", []string{"Bearer a.b.c"}, true, false},
		{"lower-case scheme", []string{"bearer a.b.c"}, true, false},
		{"none", nil, false, true},
		{"empty bearer", []string{"Bearer "}, false, true},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, false, false},
		{"two headers", []string{"Bearer a.b.c", "Bearer d.e.f"}, false, false},
		{"space inside", []string{"Bearer a.b c"}, false, false},
		{"quote", []string{`Bearer "a.b.c"`}, false, false},
		{"too long", []string{"Bearer " + strings.Repeat("a", maxToken+1)}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1.0/me?access_token=a.b.c", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			tok, err := bearerToken(r)
			if tc.ok != (err == nil) {
				t.Fatalf("token %q, err %v", tok, err)
			}
			if !tc.ok && errors.Is(err, errNoToken) != tc.noToken {
				t.Fatalf("errNoToken: %v", err)
			}
			if !tc.ok && status(err) != http.StatusUnauthorized {
				t.Fatalf("status %d", status(err))
			}
		})
	}
}

// FuzzDecodePatch checks the PATCH decoder on any input: it never panics,
// refuses with a 400 fault (never another kind), and what it accepts is a
// JSON object of exact-case, self-updatable properties whose values pass
// their checks unchanged (normalisation is idempotent) and which decodes
// to the same patch when encoded again.
func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"displayName":"Ada"}`, `{"city":null,"preferredLanguage":"en-GB"}`,
		`{"DisplayName":"x"}`, `{"city":"a","city":"b"}`, `{"a":1}{}`, `[]`, `"x"`, ``, `{"city":1}`,
		`{"city":{"a":{}}}`, `{"preferredLanguage":"zh-Hant-TW"}`, `{"surname":"Montre\u0301al"}`,
		`{"userType":"Guest"}`, "{\"city\":\"\xc1\"}", `{"displayName":"\u202e"}`, `{"ci\u0074y":"x"}`,
		`{"preferredLanguage":"en-u-co-phonebk-x-foo"}`, `{"preferredLanguage":"i-klingon"}`,
		`{"@odata.type":"#microsoft.graph.user","city":"x"}`, `{"@odata.type":null}`, `{"@odata.context":"c","@odata.etag":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeUserPatch(body, selfPatch)
		if err != nil {
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Code != codeBadRequest {
				t.Fatalf("error %v is not a 400 Request_BadRequest fault", err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses as an object: %v", body, err)
		}
		props := 0 // annotations (@odata.type and the like) are not properties
		for name := range m {
			if !strings.HasPrefix(name, "@") {
				props++
			}
		}
		if props != len(p.text) || p.accountEnabled != nil {
			t.Fatalf("accepted %q as %+v", body, p)
		}
		for name, v := range p.text {
			prop, ok := selfProps[name]
			if !ok {
				t.Fatalf("accepted property %q", name)
			}
			if _, ok := m[name]; !ok {
				t.Fatalf("property %q not in the body (case folded?)", name)
			}
			if again, problem := prop.check(v); problem != "" || again != v {
				t.Fatalf("%s: stored %q, which checks as %q, %q", name, v, again, problem)
			}
			if !utf8.ValidString(v) || strings.ContainsFunc(v, account.ForbiddenRune) {
				t.Fatalf("%s: stored %q", name, v)
			}
			if name == "displayName" && strings.TrimSpace(v) == "" {
				t.Fatalf("empty displayName accepted from %q", body)
			}
		}
		out := map[string]any{}
		for name, v := range p.text {
			if v == "" {
				out[name] = nil
			} else {
				out[name] = v
			}
		}
		enc, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		q, err := decodeUserPatch(enc, selfPatch)
		if err != nil {
			if name := "displayName"; p.text[name] == "" && bytes.Contains(enc, []byte(`"displayName":null`)) {
				t.Fatalf("accepted an empty displayName from %q", body)
			}
			t.Fatalf("re-encoded patch %s refused: %v (from %q)", enc, err, body)
		}
		for name, v := range p.text {
			if q.text[name] != v {
				t.Fatalf("round trip of %s: %q became %q", name, v, q.text[name])
			}
		}
	})
}
