package graph

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// names returns the object's property names.
func (o object) names() []string {
	out := make([]string, len(o))
	for i, m := range o {
		out[i] = m.name
	}
	return out
}

// pick returns the members named in sel, in the object's order; all of
// them when sel is nil.
func (o object) pick(sel []string) object {
	if sel == nil {
		return o
	}
	out := make(object, 0, len(sel))
	for _, m := range o {
		if slices.Contains(sel, m.name) {
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
