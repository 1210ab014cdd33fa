package graph

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/provider/fault"
	"github.com/foyer-id/foyer/storage"
)

// maxBody is the largest request body accepted, after any decoding.
const maxBody = 64 << 10

// maxCompressed bounds a gzip body as sent: a body that decodes to at most
// maxBody is at most this long (deflate's stored blocks add 5 bytes per
// 64 KiB, gzip's header and trailer 18, a file name or comment more).
const maxCompressed = maxBody + 1024

// readBody checks the media type, content coding and size of a JSON
// request body and returns it decoded, before any parsing: 415 for another
// media type or a content coding other than gzip (with Accept-Encoding:
// gzip, RFC 9110 section 15.5.16, so that the SDKs retry uncompressed);
// 413 for a body over maxBody, by Content-Length or while reading, after
// decoding: a gzip body is inflated only up to one byte past the limit, so
// a small bomb costs no more than a large plain body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	cts := r.Header.Values("Content-Type")
	if len(cts) != 1 || !jsonMediaType(cts[0]) {
		return nil, fault.New(fault.UnsupportedMedia, "UnsupportedMediaType",
			"The request body must have Content-Type application/json.")
	}
	gzipped, err := contentCoding(r.Header.Values("Content-Encoding"))
	if err != nil {
		w.Header().Set("Accept-Encoding", "gzip")
		return nil, err
	}
	limit := int64(maxBody)
	if gzipped {
		limit = maxCompressed
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	var in io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if gzipped {
		zr, err := gzip.NewReader(in)
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge()
		case err != nil:
			return nil, notGzip(err)
		}
		defer zr.Close()
		in = io.LimitReader(zr, maxBody+1)
	}
	body, err := io.ReadAll(in)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || len(body) > maxBody:
		return nil, tooLarge()
	case gzipped && err != nil:
		return nil, notGzip(err)
	case err != nil:
		return nil, badRequest("The request body could not be read.")
	}
	return body, nil
}

// contentCoding reports whether a body with these Content-Encoding header
// values is gzip-compressed: none or identity is plain, gzip (or its alias
// x-gzip, RFC 9110 section 8.4.1.3) once is gzip; anything else, several
// codings included, is refused with 415.
func contentCoding(values []string) (gzipped bool, err error) {
	var codings []string
	for _, v := range values {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return false, nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		return true, nil
	}
	return false, fault.New(fault.UnsupportedMedia, "UnsupportedMediaType",
		"The request body's Content-Encoding must be gzip, or none.")
}

func notGzip(err error) error {
	return fault.Wrap(err, fault.Invalid, codeBadRequest, "The request body is not valid gzip data.")
}

// readInput checks a write's query options (none may change a write),
// reads its JSON body and decodes it against s.
func readInput(w http.ResponseWriter, r *http.Request, s *schema) (fields, error) {
	if _, err := queryOptions(r); err != nil {
		return nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return decodeBody(body, s)
}

func tooLarge() error {
	return fault.New(fault.TooLarge, "Request_EntityTooLarge",
		"The request body is larger than "+strconv.Itoa(maxBody>>10)+" KiB.")
}

// jsonMediaType reports whether ct is application/json whose parameters
// are at most a charset of utf-8 and OData's format parameters with their
// defined values (OData JSON Format 4.01 section 3: odata.metadata,
// odata.streaming, IEEE754Compatible, ExponentialDecimals, and 4.01's
// names without the odata. prefix), which the Graph SDKs may send. The
// parameters change nothing here: a body is read the same way whatever
// they say (no property of a body is a number).
func jsonMediaType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		allowed, ok := jsonParams[k] // mime lower-cases the names
		if !ok || !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, v) }) {
			return false
		}
	}
	return true
}

// jsonParams are the parameters of application/json accepted in a
// request's Content-Type, by lower-case name, with their values.
var jsonParams = map[string][]string{
	"charset":             {"utf-8"},
	"odata.metadata":      {"minimal", "full", "none"},
	"metadata":            {"minimal", "full", "none"},
	"odata.streaming":     {"true", "false"},
	"streaming":           {"true", "false"},
	"ieee754compatible":   {"true", "false"},
	"exponentialdecimals": {"true", "false"},
}

// kind is the JSON type of a property.
type kind uint8

const (
	kindString kind = iota
	kindBool
	kindObject
)

// property describes one settable property of a body.
type property struct {
	kind     kind
	nullable bool
	required bool
	// check validates and normalises a string value; it returns the value
	// to store, or a problem completing "Property 'x' …".
	check func(string) (string, string)
	// object is the schema of an object value.
	object *schema
}

// schema is the set of properties an operation accepts.
type schema struct {
	// typeName is the Graph type, for messages.
	typeName string
	props    map[string]property
	// known lists the type's properties (by lower-case name) that exist
	// but may not be set by the operation.
	known map[string]string
}

// value is a decoded property value.
type value struct {
	null bool
	str  string
	b    bool
	obj  fields
}

// fields are the properties a body set, by name.
type fields map[string]value

// decodeBody decodes body strictly against s: one JSON object (valid
// UTF-8, nothing after it) whose property names are exact-case names of s,
// each at most once, with values of the property's type, checked. It
// returns a fault of kind Invalid naming the first property at fault.
func decodeBody(body []byte, s *schema) (fields, error) {
	if !utf8.Valid(body) {
		return nil, badRequest("The request body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	switch {
	case err == io.EOF:
		return nil, badRequest("The request body is empty; it must be a JSON object.")
	case err != nil:
		return nil, malformed()
	case tok != json.Delim('{'):
		return nil, badRequest("The request body must be a JSON object.")
	}
	f, err := readObject(dec, s, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("The request body has data after the JSON object.")
	}
	return f, nil
}

func malformed() error { return badRequest("The request body is not well-formed JSON.") }

// readObject reads the members of an object whose '{' was read.
func readObject(dec *json.Decoder, s *schema, prefix string) (fields, error) {
	f := fields{}
	seen := map[string]bool{} // annotations read
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed()
		}
		if tok == json.Delim('}') {
			break
		}
		name, ok := tok.(string)
		if !ok {
			return nil, malformed()
		}
		if _, dup := f[name]; dup || seen[name] {
			return nil, badRequest("Property " + shown(prefix+name) + " appears more than once.")
		}
		if strings.HasPrefix(name, "@") {
			seen[name] = true
			if err := readAnnotation(dec, s, prefix, name); err != nil {
				return nil, err
			}
			continue
		}
		p, ok := s.props[name]
		if !ok {
			return nil, unknownProperty(s, prefix, name)
		}
		v, err := readValue(dec, p, prefix+name)
		if err != nil {
			return nil, err
		}
		f[name] = v
	}
	for name, p := range s.props {
		if _, set := f[name]; p.required && !set {
			return nil, badRequest("Property " + shown(prefix+name) + " is required.")
		}
	}
	return f, nil
}

// readAnnotation reads the value of an OData instance annotation of an
// object (a member whose name starts with @), which is not one of its
// properties and never lands in its fields. The Graph SDKs write the
// object's type, "@odata.type": "#microsoft.graph.user": it must name the
// schema's type (a body of another type is refused), and null, which
// the JavaScript SDK writes for an unset one, is the same as leaving it
// out, as Graph takes it. A body read back from a GET may carry
// @odata.context, @odata.id or @odata.etag: they are ignored, as the
// target is the request's URL. Any other annotation is refused, as an
// unknown property is.
func readAnnotation(dec *json.Decoder, s *schema, prefix, name string) error {
	tok, err := dec.Token()
	if err != nil {
		return malformed()
	}
	str, isString := tok.(string)
	switch name {
	case "@odata.type":
		want := "#" + s.typeName
		switch {
		case tok == nil:
			return nil
		case !isString:
			return badRequest("Annotation " + shown(prefix+name) + " must be a string or null.")
		case !strings.HasPrefix(s.typeName, "microsoft.graph.") || str != want:
			return badRequest("Annotation " + shown(prefix+name) + " names the type " + shown(str) +
				"; this body " + bodyType(s) + ".")
		}
		return nil
	case "@odata.context", "@odata.id", "@odata.etag":
		if tok != nil && !isString {
			return badRequest("Annotation " + shown(prefix+name) + " must be a string or null.")
		}
		return nil
	}
	return badRequest("Annotation " + shown(prefix+name) + " is not supported on type '" + s.typeName + "'.")
}

// bodyType completes a refusal of @odata.type: the type the body must
// have, or that it has none to name.
func bodyType(s *schema) string {
	if strings.HasPrefix(s.typeName, "microsoft.graph.") {
		return "must be of type '#" + s.typeName + "'"
	}
	return "takes no @odata.type"
}

func readValue(dec *json.Decoder, p property, name string) (value, error) {
	tok, err := dec.Token()
	if err != nil {
		return value{}, malformed()
	}
	if tok == nil {
		if !p.nullable {
			return value{}, badRequest("Property " + shown(name) + " may not be null.")
		}
		return value{null: true}, nil
	}
	switch p.kind {
	case kindString:
		s, ok := tok.(string)
		if !ok {
			return value{}, badRequest("Property " + shown(name) + " must be a string" + orNull(p) + ".")
		}
		if p.check != nil {
			v, problem := p.check(s)
			if problem != "" {
				return value{}, badRequest("Property " + shown(name) + " " + problem + ".")
			}
			s = v
		}
		return value{str: s}, nil
	case kindBool:
		b, ok := tok.(bool)
		if !ok {
			return value{}, badRequest("Property " + shown(name) + " must be true or false.")
		}
		return value{b: b}, nil
	case kindObject:
		if tok != json.Delim('{') {
			return value{}, badRequest("Property " + shown(name) + " must be an object" + orNull(p) + ".")
		}
		f, err := readObject(dec, p.object, name+".")
		return value{obj: f}, err
	}
	return value{}, malformed()
}

func orNull(p property) string {
	if p.nullable {
		return " or null"
	}
	return ""
}

// unknownProperty explains why name is not accepted: a case variant of an
// accepted name, a property that exists but may not be set, or one that
// does not exist.
func unknownProperty(s *schema, prefix, name string) error {
	for ok := range s.props {
		if strings.EqualFold(ok, name) {
			return badRequest("Property " + shown(prefix+name) + " does not exist on type '" + s.typeName +
				"'; property names are case-sensitive (did you mean " + shown(prefix+ok) + "?).")
		}
	}
	if _, ok := s.known[strings.ToLower(name)]; ok {
		return badRequest("Property " + shown(prefix+name) + " cannot be updated.")
	}
	return badRequest("Property " + shown(prefix+name) + " does not exist on type '" + s.typeName + "'.")
}

// shown quotes a client-supplied name for a message: at most 64
// characters, control characters replaced.
func shown(name string) string {
	name = strings.Map(func(r rune) rune {
		if account.ForbiddenRune(r) {
			return '\uFFFD'
		}
		return r
	}, name)
	if utf8.RuneCountInString(name) > 64 {
		name = string([]rune(name)[:64]) + "…"
	}
	return "'" + name + "'"
}

// selfProps are the self-updatable properties of seed 003, with the
// checks of provider/account, which the account page uses too: Graph's
// documented maximum lengths, NFC text without control characters, a
// canonical BCP 47 preferredLanguage; displayName may not be emptied.
var selfProps = func() map[string]property {
	m := make(map[string]property, len(account.SelfUpdatable))
	for _, f := range account.SelfUpdatable {
		m[f.Name] = property{kind: kindString, nullable: !f.Required, check: f.Check}
	}
	return m
}()

// userKnown are Graph user properties (lower case) that exist but are not
// settable by the operation, so that the refusal says "cannot be updated".
var userKnown = lowerSet("id", "mail", "userPrincipalName", "userType", "creationType", "identities",
	"externalUserState", "externalUserStateChangeDateTime", "accountEnabled", "passwordProfile",
	"passwordPolicies", "createdDateTime", "mailNickname", "otherMails", "proxyAddresses", "businessPhones",
	"mobilePhone", "officeLocation", "companyName", "department", "employeeId", "employeeType", "faxNumber",
	"usageLocation", "ageGroup", "consentProvidedForMinor", "legalAgeGroupClassification", "onPremisesImmutableId",
	"showInAddressList", "signInSessionsValidFromDateTime", "lastPasswordChangeDateTime", "deletedDateTime",
	"roles", "memberOf", "manager", "aboutMe", "birthday", "hireDate", "interests", "mySite", "pastProjects",
	"preferredName", "responsibilities", "schools", "skills", "imAddresses", "securityIdentifier")

func lowerSet(names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = n
	}
	return m
}

func withProps(base map[string]property, extra map[string]property) map[string]property {
	m := make(map[string]property, len(base)+len(extra))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func without(known map[string]string, names ...string) map[string]string {
	m := make(map[string]string, len(known))
	for k, v := range known {
		m[k] = v
	}
	for _, n := range names {
		delete(m, strings.ToLower(n))
	}
	return m
}

var (
	// selfPatch is PATCH /me: the ten properties of seed 003.
	selfPatch = &schema{typeName: "microsoft.graph.user", props: selfProps, known: userKnown}
	// adminPatch is an administrator's PATCH /users/{id}: those and
	// accountEnabled.
	adminPatch = &schema{typeName: "microsoft.graph.user",
		props: withProps(selfProps, map[string]property{"accountEnabled": {kind: kindBool}}),
		known: without(userKnown, "accountEnabled")}
)

// userPatch is a validated update of a user.
type userPatch struct {
	// text maps a string property to its new value ("" clears it).
	text map[string]string
	// accountEnabled, when set, is the new value.
	accountEnabled *bool
}

func (p userPatch) empty() bool { return len(p.text) == 0 && p.accountEnabled == nil }

// decodeUserPatch decodes a PATCH body of a user with s (selfPatch or
// adminPatch).
func decodeUserPatch(body []byte, s *schema) (userPatch, error) {
	f, err := decodeBody(body, s)
	if err != nil {
		return userPatch{}, err
	}
	p := userPatch{text: map[string]string{}}
	for name, v := range f {
		if name == "accountEnabled" {
			b := v.b
			p.accountEnabled = &b
			continue
		}
		p.text[name] = v.str // null clears
	}
	return p, nil
}

// apply sets p on u and returns what changed, by property, as
// "old -> new" (provider/policy's form).
func (p userPatch) apply(u *storage.User) map[string]string {
	changed := map[string]string{}
	for name, v := range p.text {
		f := account.ProfileValue(u, name)
		if *f != v {
			changed[name] = *f + " -> " + v
			*f = v
		}
	}
	if p.accountEnabled != nil && u.AccountEnabled != *p.accountEnabled {
		changed["accountEnabled"] = strconv.FormatBool(u.AccountEnabled) + " -> " + strconv.FormatBool(*p.accountEnabled)
		u.AccountEnabled = *p.accountEnabled
	}
	return changed
}
