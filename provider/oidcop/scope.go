package oidcop

import (
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// graphResource is Microsoft Graph's resource identifier. Apps moved from
// Entra keep scope strings such as "https://graph.microsoft.com/User.Read";
// Foyer's Graph-style API stands in for it.
const graphResource = "https://graph.microsoft.com"

// defaultScope is the scope name that stands for every scope of a resource
// the app may request ("<resource>/.default").
const defaultScope = ".default"

// isResourceScope reports whether s is a scope of the Graph-style API
// rather than an OpenID Connect scope.
func isResourceScope(s string) bool {
	switch s {
	case oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess:
		return false
	}
	return slices.Contains(Scopes, s)
}

// normalizeScopes is the one place where scope names are made bare, for the
// authorization and token endpoints alike. A scope qualified by a resource
// Foyer serves ("https://graph.microsoft.com/User.Read" or
// "B/v1.0/User.Read") becomes its bare name; "<resource>/.default" becomes
// every resource scope in pool (the scopes the app may request at the
// authorization endpoint, the scopes of the grant at the token endpoint);
// pool is called only when the list names ".default". Every other name is
// left as it is, so that the caller's check refuses what is unknown.
// Duplicates are dropped; the order of first appearance is kept.
func (o *OP) normalizeScopes(scope string, pool func() []string) []string {
	in := strings.Fields(scope)
	out := make([]string, 0, len(in))
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range in {
		name, ok := o.resourceScopeName(s)
		switch {
		case !ok:
			add(s)
		case name == defaultScope:
			for _, a := range pool() {
				if isResourceScope(a) {
					add(a)
				}
			}
		default:
			add(name)
		}
	}
	return out
}

// resourceScopeName returns the bare name of a resource-qualified scope and
// true, or false when s is not qualified by a resource Foyer serves (or
// names no resource scope Foyer knows). Resource identifiers compare
// case-insensitively, scope names too (as Entra's do); the bare name comes
// back in Foyer's spelling.
func (o *OP) resourceScopeName(s string) (string, bool) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return "", false
	}
	resource, name := s[:i], s[i+1:]
	if !strings.EqualFold(resource, graphResource) && !strings.EqualFold(resource, o.cfg.URLs.GraphResource()) {
		return "", false
	}
	if name == defaultScope {
		return name, true
	}
	for _, k := range Scopes {
		if strings.EqualFold(k, name) && isResourceScope(k) {
			return k, true
		}
	}
	return "", false
}
