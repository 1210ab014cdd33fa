package graph

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/foyer-id/foyer/provider/fault"
)

// member is one property of an object.
type member struct {
	name  string
	value any
}

// object is a JSON object that keeps its properties in order, as Graph
// writes them.
type object []member

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) { return o.appendJSON(nil) }

// appendJSON appends the object's JSON to b. Strings, booleans, integers,
// nested objects and lists of them are written directly, exactly as
// encoding/json writes them (TestAppendJSONMatchesEncodingJSON); anything
// else goes through json.Marshal. Writing them directly keeps a response
// to one pass, where json.Marshal of a Marshaler would scan the result
// twice more to validate and compact it.
func (o object) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.name)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m.value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case object:
		return v.appendJSON(b)
	case []object:
		return appendList(b, v, func(b []byte, o object) ([]byte, error) { return o.appendJSON(b) })
	case []string:
		return appendList(b, v, func(b []byte, s string) ([]byte, error) { return appendString(b, s), nil })
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// appendList appends vs as a JSON array (null when nil, as encoding/json).
func appendList[T any](b []byte, vs []T, appendOne func([]byte, T) ([]byte, error)) ([]byte, error) {
	if vs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendOne(b, v); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters; <, > and & as
// \u003c, \u003e and \u0026 (HTML-safe); U+2028 and U+2029; and each
// byte of invalid UTF-8 as \ufffd.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// names returns the object's property names.
func (o object) names() []string {
	out := make([]string, len(o))
	for i, m := range o {
		out[i] = m.name
	}
	return out
}

// pick returns the members named in sel and the OData annotations
// (@odata.*, which are not properties), in the object's order; all of them
// when sel is nil.
func (o object) pick(sel []string) object {
	if sel == nil {
		return o
	}
	out := make(object, 0, len(sel)+1)
	for _, m := range o {
		if slices.Contains(sel, m.name) || strings.HasPrefix(m.name, "@odata.") {
			out = append(out, m)
		}
	}
	return out
}

// with returns the object with m in front.
func (o object) with(m ...member) object {
	return append(append(object{}, m...), o...)
}

// nullable is nil (JSON null) for an empty string, as Graph writes unset
// properties.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// queryOptions parses the query and returns its OData system query options
// ($-prefixed), refusing one the endpoint does not support, a repeated one,
// and a query that does not parse. Other parameters are ignored.
func queryOptions(r *http.Request, supported ...string) (map[string]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("The query string is malformed.")
	}
	out := map[string]string{}
	for k, vs := range q {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		if !slices.Contains(supported, k) {
			return nil, unsupportedQuery("The query option " + shown(k) + " is not supported here.")
		}
		if len(vs) != 1 {
			return nil, unsupportedQuery("The query option " + shown(k) + " is given more than once.")
		}
		out[k] = vs[0]
	}
	return out, nil
}

// parseSelect parses $select against the properties of typeName.
func parseSelect(v string, ok bool, typeName string, props []string) ([]string, error) {
	if !ok {
		return nil, nil
	}
	var sel []string
	for p := range strings.SplitSeq(v, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(props, p) {
			return nil, badRequest("Could not find a property named " + shown(p) + " on type 'microsoft.graph." + typeName + "'.")
		}
		if !slices.Contains(sel, p) {
			sel = append(sel, p)
		}
	}
	return sel, nil
}

// parseTop parses $top: def when absent, else 1..max.
func parseTop(v string, ok bool, def, max int) (int, error) {
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max || strconv.Itoa(n) != v {
		return 0, badRequest("$top must be a whole number from 1 to " + strconv.Itoa(max) + ".")
	}
	return n, nil
}

// contextURL is the @odata.context of a resource: B/v1.0/$metadata#path,
// with the selected properties when $select was given.
func (a *API) contextURL(path string, sel []string, entity bool) string {
	s := a.cfg.URLs.GraphResource() + "/$metadata#" + path
	if sel != nil {
		s += "(" + strings.Join(sel, ",") + ")"
	}
	if entity {
		s += "/$entity"
	}
	return s
}

// collection is a Graph collection response.
func (a *API) collection(path string, sel []string, items []object, next string) object {
	if items == nil {
		items = []object{}
	}
	o := object{{"@odata.context", a.contextURL(path, sel, false)}}
	if next != "" {
		o = append(o, member{"@odata.nextLink", next})
	}
	return append(o, member{"value", items})
}

// nextLink is the URL of the page after this one.
func (a *API) nextLink(path string, top int, skip string, sel []string) string {
	q := "$top=" + strconv.Itoa(top) + "&$skiptoken=" + url.QueryEscape(skip)
	if sel != nil {
		q += "&$select=" + url.QueryEscape(strings.Join(sel, ","))
	}
	return a.cfg.URLs.GraphResource() + "/" + path + "?" + q
}

func unsupportedQuery(msg string) error {
	return fault.New(fault.Invalid, codeUnsupportedQuery, msg)
}
