package provision

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/foyer-id/foyer/storage"
)

// knownScopes are the scopes an app may be allowed (DESIGN.md section 4).
var knownScopes = []string{
	"openid", "profile", "email", "offline_access",
	"User.Read", "User.ReadWrite", "Directory.AccessAsUser.All",
	"Policy.Read.All", "Policy.ReadWrite.Authorization", "User.ReadWrite.All",
	"User.Invite.All", "Domain.ReadWrite.All", "Application.ReadWrite.All", "AuditLog.Read.All",
}

// knownRoles are the directory roles a user may hold.
var knownRoles = []string{"Global Administrator"}

// reservedNames may not name a tenant: they are path segments of their own
// ("common" is the multi-tenant issuer; the others are Entra's and Foyer's
// non-tenant segments).
var reservedNames = []string{"common", "organizations", "consumers", "healthz", "readyz", "metrics"}

var invitesFrom = []string{"none", "adminsAndGuestInviters", "adminsGuestInvitersAndAllMembers", "everyone"}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9-]{2,63}$`)
	clientIDRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)
)

const (
	maxDisplayName = 256
	minSecretBytes = 32
	maxPassword    = 256 // code points
)

// validate checks everything that does not depend on the store, normalising
// as it goes (GUIDs, mail addresses and UPNs to lower case), and adds every
// problem it finds to ps.
func (d *Document) validate(ps *problems) {
	names := map[string]string{}   // tenant name -> path
	ids := map[string]string{}     // tenant id -> path
	domains := map[string]string{} // domain -> path
	clients := map[string]string{} // client ID -> path
	for i := range d.Tenants {
		t := &d.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		switch {
		case t.Name == "":
			ps.add(p+".name", "required")
		case !nameRE.MatchString(t.Name):
			ps.add(p+".name", "%q: must be 2 to 63 characters of a-z, 0-9 and -", t.Name)
		case slices.Contains(reservedNames, t.Name):
			ps.add(p+".name", "%q: is reserved", t.Name)
		case storage.IsID(t.Name):
			ps.add(p+".name", "%q: must not have the form of a GUID", t.Name)
		default:
			if prev, dup := names[t.Name]; dup {
				ps.add(p+".name", "%q: already used by %s", t.Name, prev)
			}
			names[t.Name] = p
		}
		if t.ID != "" {
			t.ID = strings.ToLower(t.ID)
			if !storage.IsID(t.ID) {
				ps.add(p+".id", "%q: not a GUID (8-4-4-4-12 hexadecimal digits)", t.ID)
			} else if prev, dup := ids[t.ID]; dup {
				ps.add(p+".id", "%q: already used by %s", t.ID, prev)
			} else {
				ids[t.ID] = p
			}
		}
		checkDisplayName(ps, p, t.DisplayName)
		switch t.Kind {
		case storage.External, storage.Workforce:
		case "":
			ps.add(p+".kind", "required: external or workforce")
		default:
			ps.add(p+".kind", "%q: must be external or workforce", t.Kind)
		}
		for j, dom := range t.Domains {
			dp := fmt.Sprintf("%s.domains[%d]", p, j)
			if why := domainProblem(dom); why != "" {
				ps.add(dp, "%q: %s", dom, why)
			} else if prev, dup := domains[dom]; dup {
				ps.add(dp, "%q: already declared by %s (a domain is verified in at most one tenant)", dom, prev)
			} else {
				domains[dom] = dp
			}
		}
		if n := t.PasswordMinLength; n != nil && (*n < 8 || *n > maxPassword) {
			ps.add(p+".passwordMinLength", "%d: must be 8 to 256", *n)
		}
		switch t.AccessTokenAlg {
		case "", "ES256", "RS256":
		default:
			ps.add(p+".accessTokenAlg", "%q: must be ES256 or RS256", t.AccessTokenAlg)
		}
		if pol := t.AuthorizationPolicy; pol != nil {
			pp := p + ".authorizationPolicy"
			if v := pol.AllowInvitesFrom; v != nil && !slices.Contains(invitesFrom, *v) {
				ps.add(pp+".allowInvitesFrom", "%q: must be one of %s", *v, strings.Join(invitesFrom, ", "))
			}
			if r := pol.DefaultUserRolePermissions; r != nil && t.Kind == storage.External &&
				r.AllowedToReadOtherUsers != nil && *r.AllowedToReadOtherUsers {
				ps.add(pp+".defaultUserRolePermissions.allowedToReadOtherUsers", "must be false in an external tenant")
			}
		}
		for j := range t.Apps {
			d.validateApp(ps, t, &t.Apps[j], fmt.Sprintf("%s.apps[%d]", p, j), clients)
		}
		upns := map[string]string{}
		mails := map[string]string{}
		for j := range t.Users {
			d.validateUser(ps, &t.Users[j], fmt.Sprintf("%s.users[%d]", p, j), upns, mails)
		}
	}
}

func (d *Document) validateApp(ps *problems, t *Tenant, a *App, p string, clients map[string]string) {
	switch {
	case a.ClientID == "":
		ps.add(p+".clientId", "required")
	case !clientIDRE.MatchString(a.ClientID):
		ps.add(p+".clientId", "%q: must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ ~ -", a.ClientID)
	default:
		if prev, dup := clients[a.ClientID]; dup {
			ps.add(p+".clientId", "%q: already used by %s", a.ClientID, prev)
		}
		clients[a.ClientID] = p
	}
	checkDisplayName(ps, p, a.DisplayName)
	if len(a.RedirectURIs) == 0 {
		ps.add(p+".redirectUris", "at least one redirect URI is required")
	}
	checkURIs(ps, p+".redirectUris", a.RedirectURIs)
	checkURIs(ps, p+".postLogoutRedirectUris", a.PostLogoutRedirectURIs)
	seen := checkKnown(ps, p+".scopes", a.Scopes, knownScopes, "scope", " ")
	if !seen["openid"] {
		ps.add(p+".scopes", "must include openid")
	}
	switch a.IDTokenSigningAlg {
	case "", "RS256", "ES256":
	default:
		ps.add(p+".idTokenSigningAlg", "%q: must be RS256 or ES256", a.IDTokenSigningAlg)
	}
	for i, name := range a.SignUpAttributes {
		if !slices.Contains(signUpAttributes, name) {
			ps.add(fmt.Sprintf("%s.signUpAttributes[%d]", p, i), "%q: must be one of %s", name, strings.Join(signUpAttributes, ", "))
		}
	}
	if a.SignUpEnabled && t.Kind == storage.Workforce {
		ps.add(p+".signUpEnabled", "app sign-up flows exist only in external tenants (workforce tenants are joined by verified domain)")
	}
	if !d.resolved && !a.keepSecret && a.secret == "" && (a.ClientSecretEnv != "" || a.ClientSecretFile != "") {
		ps.add(p, "client secret not loaded (use Parse or LoadFile)")
	}
	if a.secret != "" && len(a.secret) < minSecretBytes {
		ps.add(p, "client secret is %d bytes: at least %d are required (use 32 random bytes, e.g. openssl rand -base64 32)", len(a.secret), minSecretBytes)
	}
}

// signUpAttributes are the self-updatable profile properties (seed 003)
// an app's sign-up flow may ask for besides the three it always asks for.
var signUpAttributes = []string{"jobTitle", "streetAddress", "city", "state", "postalCode", "country", "preferredLanguage"}

func (d *Document) validateUser(ps *problems, u *User, p string, upns, mails map[string]string) {
	u.Mail = strings.ToLower(strings.TrimSpace(u.Mail))
	u.UserPrincipalName = strings.ToLower(strings.TrimSpace(u.UserPrincipalName))
	if u.Mail == "" && u.UserPrincipalName == "" {
		ps.add(p, "userPrincipalName or mail is required")
	}
	mailOK := true
	if u.Mail != "" {
		if why := addressProblem(u.Mail); why != "" {
			ps.add(p+".mail", "%q: %s", u.Mail, why)
			mailOK = false
		} else if prev, dup := mails[u.Mail]; dup {
			ps.add(p+".mail", "%q: already used by %s", u.Mail, prev)
			mailOK = false
		} else {
			mails[u.Mail] = p
		}
	}
	// The UPN defaults to mail; a bad mail was reported once already.
	if upn := u.upn(); upn != "" && (u.UserPrincipalName != "" || mailOK) {
		key := p + ".userPrincipalName"
		if u.UserPrincipalName == "" {
			key = p + ".mail" // the UPN defaults to mail
		}
		if why := addressProblem(upn); why != "" {
			ps.add(key, "%q: %s", upn, why)
		} else if prev, dup := upns[upn]; dup {
			ps.add(key, "%q: userPrincipalName already used by %s", upn, prev)
		} else {
			upns[upn] = p
		}
	}
	checkDisplayName(ps, p, u.DisplayName)
	for _, f := range []struct{ key, v string }{{"givenName", u.GivenName}, {"surname", u.Surname}} {
		if utf8.RuneCountInString(f.v) > maxDisplayName {
			ps.add(p+"."+f.key, "longer than %d characters", maxDisplayName)
		}
	}
	checkKnown(ps, p+".roles", u.Roles, knownRoles, "directory role", ", ")
	if !d.resolved && u.password == "" && (u.PasswordEnv != "" || u.PasswordFile != "") {
		ps.add(p, "password not loaded (use Parse or LoadFile)")
	}
	if utf8.RuneCountInString(u.password) > maxPassword {
		ps.add(p, "password is longer than %d characters", maxPassword)
	}
	if u.ResetPassword && u.PasswordEnv == "" && u.PasswordFile == "" && u.password == "" {
		ps.add(p+".resetPassword", "needs passwordEnv or passwordFile")
	}
}

// upn is the user's key: its UPN, which defaults to its mail.
func (u *User) upn() string {
	if u.UserPrincipalName != "" {
		return u.UserPrincipalName
	}
	return u.Mail
}

func checkDisplayName(ps *problems, p, s string) {
	if utf8.RuneCountInString(s) > maxDisplayName {
		ps.add(p+".displayName", "longer than %d characters", maxDisplayName)
	}
}

func checkURIs(ps *problems, p string, uris []string) {
	seen := map[string]bool{}
	for i, s := range uris {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if why := redirectURIProblem(s); why != "" {
			ps.add(ip, "%q: %s", s, why)
		} else if seen[s] {
			ps.add(ip, "%q: listed twice", s)
		}
		seen[s] = true
	}
}

// redirectURIProblem says what is wrong with a redirect URI, or "". Redirect
// URIs are compared exactly, so they must be absolute https URLs (http only
// on loopback), without fragment, user info or wildcard.
func redirectURIProblem(s string) string {
	if strings.Contains(s, "*") {
		return "wildcards are not allowed"
	}
	if strings.Contains(s, "#") {
		return "must not contain a fragment"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "not a URL"
	}
	if !u.IsAbs() || u.Host == "" {
		return "must be an absolute URL with a host"
	}
	if u.User != nil {
		return "must not contain user info"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "http is allowed only for localhost/127.0.0.1/[::1]"
		}
	default:
		return fmt.Sprintf("scheme %q is not allowed: use https (http only for localhost/127.0.0.1/[::1])", u.Scheme)
	}
	return ""
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// domainProblem says what is wrong with a DNS name, or "".
func domainProblem(s string) string {
	switch {
	case s == "":
		return "empty domain name"
	case s != strings.ToLower(s):
		return "must be lower-case"
	case len(s) > 253:
		return "longer than 253 characters"
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return "must be a DNS name with at least two labels"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "each label must be 1 to 63 characters"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "a label may not start or end with -"
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Sprintf("invalid character %q (a-z, 0-9 and - only; use punycode for IDNs)", c)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "the top-level label may not be numeric"
	}
	return ""
}

// addressProblem says what is wrong with an email address or UPN, or "".
func addressProblem(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") {
		return "must have the form local@domain"
	}
	if local == "" || len(local) > 64 {
		return "the local part must be 1 to 64 characters"
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return fmt.Sprintf("invalid character %q in the local part", r)
		}
	}
	if why := domainProblem(domain); why != "" {
		return "domain " + why
	}
	return ""
}

// checkKnown reports each item of the list at path that is not one of
// known (named what, listed with sep) or is listed twice, and returns the
// items seen.
func checkKnown(ps *problems, path string, items, known []string, what, sep string) map[string]bool {
	seen := map[string]bool{}
	for k, it := range items {
		ip := fmt.Sprintf("%s[%d]", path, k)
		switch {
		case !slices.Contains(known, it):
			ps.add(ip, "%q: unknown %s (known: %s)", it, what, strings.Join(known, sep))
		case seen[it]:
			ps.add(ip, "%q: listed twice", it)
		}
		seen[it] = true
	}
	return seen
}
