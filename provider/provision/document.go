package provision

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/foyer-id/foyer/storage"
)

// Document is a declarative description of tenants and what they contain.
// Obtain one from Parse, LoadFile or Dev: they resolve the secrets the
// document refers to and validate it.
type Document struct {
	Tenants []Tenant `yaml:"tenants"`

	// source names the document in error messages (a file name, "--dev").
	source string
	// resolved is set once the secrets the document refers to were read.
	resolved bool
}

// Tenant describes one tenant. Name is its key: an existing tenant is found
// by ID when ID is set, by Name otherwise.
type Tenant struct {
	Name        string             `yaml:"name"`
	ID          string             `yaml:"id"`
	DisplayName string             `yaml:"displayName"`
	Kind        storage.TenantKind `yaml:"kind"`
	// Domains are declared verified in the tenant. Domains the tenant has
	// verified otherwise (DNS) are kept.
	Domains []string `yaml:"domains"`
	// PasswordMinLength is 8 to 256; nil keeps the tenant's setting.
	PasswordMinLength *int `yaml:"passwordMinLength"`
	// AccessTokenAlg is ES256 or RS256; empty keeps the tenant's setting.
	AccessTokenAlg string `yaml:"accessTokenAlg"`
	// AuthorizationPolicy is partial: nil fields keep their current value
	// (storage.DefaultPolicy for a new tenant).
	AuthorizationPolicy *Policy `yaml:"authorizationPolicy"`
	Apps                []App   `yaml:"apps"`
	Users               []User  `yaml:"users"`
}

// Policy is a partial Graph authorizationPolicy.
type Policy struct {
	AllowEmailVerifiedUsersToJoinOrganization *bool            `yaml:"allowEmailVerifiedUsersToJoinOrganization"`
	AllowedToSignUpEmailBasedSubscriptions    *bool            `yaml:"allowedToSignUpEmailBasedSubscriptions"`
	AllowedToUseSSPR                          *bool            `yaml:"allowedToUseSSPR"`
	AllowInvitesFrom                          *string          `yaml:"allowInvitesFrom"`
	DefaultUserRolePermissions                *RolePermissions `yaml:"defaultUserRolePermissions"`
}

// RolePermissions is a partial Graph defaultUserRolePermissions.
type RolePermissions struct {
	AllowedToCreateApps                      *bool `yaml:"allowedToCreateApps"`
	AllowedToCreateTenants                   *bool `yaml:"allowedToCreateTenants"`
	AllowedToReadOtherUsers                  *bool `yaml:"allowedToReadOtherUsers"`
	AllowedToReadBitlockerKeysForOwnedDevice *bool `yaml:"allowedToReadBitlockerKeysForOwnedDevice"`
}

// App describes an OIDC client. The document is authoritative for the apps
// it lists: every field is set as written, a missing secret makes the app
// public.
type App struct {
	ClientID               string   `yaml:"clientId"`
	DisplayName            string   `yaml:"displayName"`
	RedirectURIs           []string `yaml:"redirectUris"`
	PostLogoutRedirectURIs []string `yaml:"postLogoutRedirectUris"`
	Scopes                 []string `yaml:"scopes"`
	SignUpEnabled          bool     `yaml:"signUpEnabled"`
	// SignUpAttributes are the profile properties the sign-up flow asks
	// for besides displayName, givenName and surname.
	SignUpAttributes  []string `yaml:"signUpAttributes"`
	MultiTenant       bool     `yaml:"multiTenant"`
	PreConsented      bool     `yaml:"preConsented"`
	IDTokenSigningAlg string   `yaml:"idTokenSigningAlg"`
	// ClientSecretEnv and ClientSecretFile name where a confidential app's
	// secret is read from; at most one may be set.
	ClientSecretEnv  string `yaml:"clientSecretEnv"`
	ClientSecretFile string `yaml:"clientSecretFile"`

	secret     string // resolved from ClientSecretEnv/File, or set by Dev
	keepSecret bool   // Dev: keep the stored secret hash whatever it is
}

// User describes a user. UserPrincipalName (which defaults to Mail) is its
// key; Mail is used to find an existing user when no user has the UPN.
type User struct {
	UserPrincipalName string `yaml:"userPrincipalName"`
	Mail              string `yaml:"mail"`
	DisplayName       string `yaml:"displayName"`
	GivenName         string `yaml:"givenName"`
	Surname           string `yaml:"surname"`
	// Roles, when not nil, are exactly the directory roles the user holds
	// (an empty list removes them); nil keeps the user's roles.
	Roles []string `yaml:"roles"`
	// PasswordEnv and PasswordFile name where the initial password is read
	// from; at most one may be set.
	PasswordEnv  string `yaml:"passwordEnv"`
	PasswordFile string `yaml:"passwordFile"`
	// ResetPassword sets the password on every apply, even when the user
	// already has one.
	ResetPassword bool `yaml:"resetPassword"`

	password string // resolved from PasswordEnv/File, or set by Dev
}

// Secrets reads the secrets a document refers to. The zero value reads the
// process environment and the file system.
type Secrets struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

func (s Secrets) getenv(k string) string {
	if s.Getenv == nil {
		return os.Getenv(k)
	}
	return s.Getenv(k)
}

func (s Secrets) readFile(name string) ([]byte, error) {
	if s.ReadFile == nil {
		return os.ReadFile(name)
	}
	return s.ReadFile(name)
}

// LoadFile reads, parses and validates the document in the file at path,
// reading secrets from the environment and the file system.
func LoadFile(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, Secrets{})
}

// Parse decodes the YAML document data, reads the secrets it refers to from
// src and validates it. Unknown keys are errors. name prefixes every error
// message. All problems are reported at once, joined; each matches
// ErrInvalid with errors.Is.
func Parse(name string, data []byte, src Secrets) (*Document, error) {
	doc := &Document{source: name, resolved: true}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return doc, nil // an empty document declares nothing
		}
		return nil, syntaxError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(name, err)
		}
		return nil, invalidf(name, extra.Line, "", "only one YAML document is allowed")
	}

	ps := &problems{source: name}
	idx := map[int]string{}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return doc, nil
	}
	if top.Kind != yaml.MappingNode {
		ps.addLine(top.Line, "", "the document must be a mapping with a tenants list")
		return nil, ps.err()
	}
	walkKeys(top, reflect.TypeFor[Document](), "", ps, idx)
	if err := ps.err(); err != nil {
		return nil, err
	}

	// Unknown keys were reported above with their paths; KnownFields stays
	// on so that the decoder can never accept what the walk missed.
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(doc); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, syntaxError(name, err)
		}
		for _, msg := range te.Errors {
			line, rest := splitLine(msg)
			ps.addLine(line, idx[line], "%s", rest)
		}
		return nil, ps.err()
	}
	doc.resolveSecrets(src, ps)
	doc.validate(ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return doc, nil
}

// resolveSecrets reads every secret the document refers to, so that a
// missing one fails validation rather than a later apply.
func (d *Document) resolveSecrets(src Secrets, ps *problems) {
	for i := range d.Tenants {
		t := &d.Tenants[i]
		for j := range t.Apps {
			a := &t.Apps[j]
			p := fmt.Sprintf("tenants[%d].apps[%d]", i, j)
			a.secret = readSecret(src, ps, p, "clientSecretEnv", a.ClientSecretEnv, "clientSecretFile", a.ClientSecretFile)
		}
		for j := range t.Users {
			u := &t.Users[j]
			p := fmt.Sprintf("tenants[%d].users[%d]", i, j)
			u.password = readSecret(src, ps, p, "passwordEnv", u.PasswordEnv, "passwordFile", u.PasswordFile)
		}
	}
}

// readSecret returns the secret named by env or file. A file's trailing
// line break is not part of the secret. The secret never appears in an
// error message.
func readSecret(src Secrets, ps *problems, path, envKey, env, fileKey, file string) string {
	switch {
	case env != "" && file != "":
		ps.add(path, "%s and %s are mutually exclusive", envKey, fileKey)
		return ""
	case env != "":
		v := src.getenv(env)
		if v == "" {
			ps.add(path+"."+envKey, "environment variable %s is not set or empty", env)
		}
		return v
	case file != "":
		b, err := src.readFile(file)
		if err != nil {
			ps.add(path+"."+fileKey, "%v", err)
			return ""
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			ps.add(path+"."+fileKey, "file %s is empty", file)
		}
		return v
	}
	return ""
}

// walkKeys reports every mapping key that names no field of t, with its
// line and YAML path, and records in idx the path of the first scalar on
// each line (to place the decoder's type errors).
func walkKeys(n *yaml.Node, t reflect.Type, path string, ps *problems, idx map[int]string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" || k.Value == "<<" {
				walkKeys(v, t, path, ps, idx)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown field %q", k.Value)
				if s := suggest(k.Value, fields); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				ps.addLine(k.Line, path, "%s", msg)
				continue
			}
			walkKeys(v, ft, join(path, k.Value), ps, idx)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			walkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps, idx)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Struct:
		// a merge key's list of mappings
		for _, c := range n.Content {
			walkKeys(c, t, path, ps, idx)
		}
	default:
		if _, ok := idx[n.Line]; !ok {
			idx[n.Line] = path
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// suggest returns the known key closest to key, if it is close enough to
// be a typo.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for f := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(f))
		if d < bestD || d == bestD && best != "" && f < best {
			best, bestD = f, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// splitLine splits yaml.v3's "line N: message" into N and message.
func splitLine(msg string) (int, string) {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	n, _ := strconv.Atoi(m[1])
	return n, m[2]
}

func syntaxError(name string, err error) error {
	line, msg := splitLine(err.Error())
	return invalidf(name, line, "", "%s", msg)
}
