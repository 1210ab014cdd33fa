package provision

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

const (
	testWebSecret     = "s3cret-web-0123456789-abcdefghijklmnop" // 38 bytes
	testAdminPassword = "correct horse battery staple"
	testAlicePassword = "alice-likes-long-passphrases"
)

// testSecrets serves env and files from maps.
func testSecrets(env, files map[string]string) Secrets {
	return Secrets{
		Getenv: func(k string) string { return env[k] },
		ReadFile: func(name string) ([]byte, error) {
			v, ok := files[name]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			return []byte(v), nil
		},
	}
}

func defaultSecrets() Secrets {
	return testSecrets(
		map[string]string{"WEB_SECRET": testWebSecret, "ADMIN_PASSWORD": testAdminPassword},
		map[string]string{"/run/secrets/alice": testAlicePassword + "\n"},
	)
}

// baseYAML is a valid document using every kind of object.
const baseYAML = `
tenants:
  - name: contoso
    displayName: Contoso
    kind: external
    domains: [contoso.com]
    passwordMinLength: 12
    authorizationPolicy:
      allowedToUseSSPR: false
    apps:
      - clientId: contoso-spa
        displayName: Contoso SPA
        redirectUris: [http://localhost:3000/callback]
        postLogoutRedirectUris: [http://localhost:3000/]
        scopes: [openid, profile, email, offline_access, User.Read]
        signUpEnabled: true
      - clientId: contoso-web
        redirectUris: [https://web.contoso.com/callback]
        scopes: [openid, profile]
        clientSecretEnv: WEB_SECRET
    users:
      - userPrincipalName: admin@contoso.com
        mail: Admin@Contoso.com
        displayName: Admin
        roles: [Global Administrator]
        passwordEnv: ADMIN_PASSWORD
      - mail: alice@example.org
        displayName: Alice
        passwordFile: /run/secrets/alice
  - name: fabrikam
    kind: workforce
    domains: [fabrikam.com, fabrikam.net]
    apps:
      - clientId: fabrikam-portal
        redirectUris: ["https://portal.fabrikam.com/cb"]
        scopes: [openid]
        multiTenant: true
`

func mustParse(t *testing.T, src string, secrets Secrets) *Document {
	t.Helper()
	d, err := Parse("foyer.yaml", []byte(src), secrets)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestParseValid(t *testing.T) {
	d := mustParse(t, baseYAML, defaultSecrets())
	if got := len(d.Tenants); got != 2 {
		t.Fatalf("tenants = %d, want 2", got)
	}
	c := d.Tenants[0]
	if got := c.Apps[1].secret; got != testWebSecret {
		t.Errorf("web secret not resolved from env: %q", got)
	}
	if got := c.Users[1].password; got != testAlicePassword {
		t.Errorf("file password = %q, want the file without its line break", got)
	}
	if got := c.Users[0].Mail; got != "admin@contoso.com" {
		t.Errorf("mail not normalised: %q", got)
	}
	if c.PasswordMinLength == nil || *c.PasswordMinLength != 12 {
		t.Errorf("passwordMinLength = %v", c.PasswordMinLength)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n", "tenants: []\n"} {
		d, err := Parse("foyer.yaml", []byte(src), Secrets{})
		if err != nil || len(d.Tenants) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want an empty document", src, d, err)
		}
	}
}

// TestParseProblems checks the exact messages, one line per problem.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []string
	}{{
		name: "http redirect on a public host",
		src: `
tenants:
  - name: contoso
    kind: external
    apps:
      - clientId: a
        redirectUris: [http://localhost/cb]
        scopes: [openid]
      - clientId: b
        redirectUris: [https://ok.example/cb, "http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://evil.example/cb"]
        scopes: [openid]
`,
		want: []string{`foyer.yaml: tenants[0].apps[1].redirectUris[3]: "http://evil.example/cb": http is allowed only for localhost/127.0.0.1/[::1]`},
	}, {
		name: "redirect URI rules",
		src: `
tenants:
  - name: contoso
    kind: external
    apps:
      - clientId: a
        redirectUris:
          - https://app.example/cb#frag
          - https://user@app.example/cb
          - https://*.example/cb
          - /callback
          - com.example.app:/cb
          - ftp://app.example/cb
          - https://app.example/cb
          - https://app.example/cb
        postLogoutRedirectUris: ["http://evil.example/"]
        scopes: [openid]
`,
		want: []string{
			`foyer.yaml: tenants[0].apps[0].redirectUris[0]: "https://app.example/cb#frag": must not contain a fragment`,
			`foyer.yaml: tenants[0].apps[0].redirectUris[1]: "https://user@app.example/cb": must not contain user info`,
			`foyer.yaml: tenants[0].apps[0].redirectUris[2]: "https://*.example/cb": wildcards are not allowed`,
			`foyer.yaml: tenants[0].apps[0].redirectUris[3]: "/callback": must be an absolute URL with a host`,
			`foyer.yaml: tenants[0].apps[0].redirectUris[4]: "com.example.app:/cb": must be an absolute URL with a host`,
			`foyer.yaml: tenants[0].apps[0].redirectUris[5]: "ftp://app.example/cb": scheme "ftp" is not allowed: use https (http only for localhost/127.0.0.1/[::1])`,
			`foyer.yaml: tenants[0].apps[0].redirectUris[7]: "https://app.example/cb": listed twice`,
			`foyer.yaml: tenants[0].apps[0].postLogoutRedirectUris[0]: "http://evil.example/": http is allowed only for localhost/127.0.0.1/[::1]`,
		},
	}, {
		name: "no redirect URI",
		src: `
tenants:
  - name: contoso
    kind: external
    apps:
      - clientId: a
        scopes: [openid]
`,
		want: []string{`foyer.yaml: tenants[0].apps[0].redirectUris: at least one redirect URI is required`},
	}, {
		name: "tenant names",
		src: `
tenants:
  - name: Contoso
    kind: external
  - name: c
    kind: external
  - name: common
    kind: external
  - name: 5f0c6a1e-3b1d-4c4e-9a57-2f1a7e0b9c11
    kind: external
  - kind: external
  - name: fabrikam
    kind: external
  - name: fabrikam
    kind: external
`,
		want: []string{
			`foyer.yaml: tenants[0].name: "Contoso": must be 2 to 63 characters of a-z, 0-9 and -`,
			`foyer.yaml: tenants[1].name: "c": must be 2 to 63 characters of a-z, 0-9 and -`,
			`foyer.yaml: tenants[2].name: "common": is reserved`,
			`foyer.yaml: tenants[3].name: "5f0c6a1e-3b1d-4c4e-9a57-2f1a7e0b9c11": must not have the form of a GUID`,
			`foyer.yaml: tenants[4].name: required`,
			`foyer.yaml: tenants[6].name: "fabrikam": already used by tenants[5]`,
		},
	}, {
		name: "ids and kinds",
		src: `
tenants:
  - name: contoso
    id: 5F0C6A1E-3B1D-4C4E-9A57-2F1A7E0B9C11
    kind: external
  - name: fabrikam
    id: 5f0c6a1e-3b1d-4c4e-9a57-2f1a7e0b9c11
    kind: workforce
  - name: tailspin
    id: 1234
    kind: customer
  - name: wingtip
`,
		want: []string{
			`foyer.yaml: tenants[1].id: "5f0c6a1e-3b1d-4c4e-9a57-2f1a7e0b9c11": already used by tenants[0]`,
			`foyer.yaml: tenants[2].id: "1234": not a GUID (8-4-4-4-12 hexadecimal digits)`,
			`foyer.yaml: tenants[2].kind: "customer": must be external or workforce`,
			`foyer.yaml: tenants[3].kind: required: external or workforce`,
		},
	}, {
		name: "domains",
		src: `
tenants:
  - name: contoso
    kind: external
    domains: [Contoso.com, localhost, "contoso_1.com", -contoso.com, contoso.123, "contoso..com", contoso.com]
  - name: fabrikam
    kind: workforce
    domains: [contoso.com]
`,
		want: []string{
			`foyer.yaml: tenants[0].domains[0]: "Contoso.com": must be lower-case`,
			`foyer.yaml: tenants[0].domains[1]: "localhost": must be a DNS name with at least two labels`,
			`foyer.yaml: tenants[0].domains[2]: "contoso_1.com": invalid character '_' (a-z, 0-9 and - only; use punycode for IDNs)`,
			`foyer.yaml: tenants[0].domains[3]: "-contoso.com": a label may not start or end with -`,
			`foyer.yaml: tenants[0].domains[4]: "contoso.123": the top-level label may not be numeric`,
			`foyer.yaml: tenants[0].domains[5]: "contoso..com": each label must be 1 to 63 characters`,
			`foyer.yaml: tenants[1].domains[0]: "contoso.com": already declared by tenants[0].domains[6] (a domain is verified in at most one tenant)`,
		},
	}, {
		name: "scopes, client IDs and algorithms",
		src: `
tenants:
  - name: contoso
    kind: external
    accessTokenAlg: HS256
    apps:
      - clientId: app
        redirectUris: [https://a.example/cb]
        scopes: [profile, User.Read, User.Read, Mail.Send]
        idTokenSigningAlg: none
      - clientId: "bad id"
        redirectUris: [https://a.example/cb]
        scopes: [openid]
  - name: fabrikam
    kind: workforce
    apps:
      - clientId: app
        redirectUris: [https://a.example/cb]
        scopes: [openid]
        signUpEnabled: true
`,
		want: []string{
			`foyer.yaml: tenants[0].accessTokenAlg: "HS256": must be ES256 or RS256`,
			`foyer.yaml: tenants[0].apps[0].scopes[2]: "User.Read": listed twice`,
			`foyer.yaml: tenants[0].apps[0].scopes[3]: "Mail.Send": unknown scope (known: openid profile email offline_access User.Read User.ReadWrite Directory.AccessAsUser.All Policy.Read.All Policy.ReadWrite.Authorization User.ReadWrite.All User.Invite.All Domain.ReadWrite.All Application.ReadWrite.All AuditLog.Read.All)`,
			`foyer.yaml: tenants[0].apps[0].scopes: must include openid`,
			`foyer.yaml: tenants[0].apps[0].idTokenSigningAlg: "none": must be RS256 or ES256`,
			`foyer.yaml: tenants[0].apps[1].clientId: "bad id": must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ ~ -`,
			`foyer.yaml: tenants[1].apps[0].clientId: "app": already used by tenants[0].apps[0]`,
			`foyer.yaml: tenants[1].apps[0].signUpEnabled: app sign-up flows exist only in external tenants (workforce tenants are joined by verified domain)`,
		},
	}, {
		name: "password length and policy",
		src: `
tenants:
  - name: contoso
    kind: external
    passwordMinLength: 7
    authorizationPolicy:
      allowInvitesFrom: anyone
      defaultUserRolePermissions:
        allowedToReadOtherUsers: true
  - name: fabrikam
    kind: workforce
    passwordMinLength: 257
    authorizationPolicy:
      defaultUserRolePermissions:
        allowedToReadOtherUsers: true
`,
		want: []string{
			`foyer.yaml: tenants[0].passwordMinLength: 7: must be 8 to 256`,
			`foyer.yaml: tenants[0].authorizationPolicy.allowInvitesFrom: "anyone": must be one of none, adminsAndGuestInviters, adminsGuestInvitersAndAllMembers, everyone`,
			`foyer.yaml: tenants[0].authorizationPolicy.defaultUserRolePermissions.allowedToReadOtherUsers: must be false in an external tenant`,
			`foyer.yaml: tenants[1].passwordMinLength: 257: must be 8 to 256`,
		},
	}, {
		name: "secrets",
		env:  map[string]string{"SHORT": "only-31-bytes-long-0123456789ab", "EMPTY": ""},
		src: `
tenants:
  - name: contoso
    kind: external
    apps:
      - clientId: a
        redirectUris: [https://a.example/cb]
        scopes: [openid]
        clientSecretEnv: MISSING
      - clientId: b
        redirectUris: [https://a.example/cb]
        scopes: [openid]
        clientSecretEnv: SHORT
      - clientId: c
        redirectUris: [https://a.example/cb]
        scopes: [openid]
        clientSecretEnv: SHORT
        clientSecretFile: /run/secrets/c
      - clientId: d
        redirectUris: [https://a.example/cb]
        scopes: [openid]
        clientSecretFile: /run/secrets/none
    users:
      - mail: a@contoso.com
        passwordEnv: EMPTY
      - mail: b@contoso.com
        passwordFile: /run/secrets/empty
      - mail: c@contoso.com
        resetPassword: true
`,
		want: []string{
			`foyer.yaml: tenants[0].apps[0].clientSecretEnv: environment variable MISSING is not set or empty`,
			`foyer.yaml: tenants[0].apps[2]: clientSecretEnv and clientSecretFile are mutually exclusive`,
			`foyer.yaml: tenants[0].apps[3].clientSecretFile: open /run/secrets/none: file does not exist`,
			`foyer.yaml: tenants[0].users[0].passwordEnv: environment variable EMPTY is not set or empty`,
			`foyer.yaml: tenants[0].users[1].passwordFile: file /run/secrets/empty is empty`,
			`foyer.yaml: tenants[0].apps[1]: client secret is 31 bytes: at least 32 are required (use 32 random bytes, e.g. openssl rand -base64 32)`,
			`foyer.yaml: tenants[0].users[2].resetPassword: needs passwordEnv or passwordFile`,
		},
	}, {
		name: "users",
		src: `
tenants:
  - name: contoso
    kind: external
    users:
      - displayName: Nobody
      - mail: not-an-address
      - mail: a@contoso.com
      - mail: A@contoso.com
      - userPrincipalName: a@contoso.com
        mail: other@contoso.com
      - userPrincipalName: "a b@contoso.com"
        roles: [Global Administrator, Global Administrator, Root]
`,
		want: []string{
			`foyer.yaml: tenants[0].users[0]: userPrincipalName or mail is required`,
			`foyer.yaml: tenants[0].users[1].mail: "not-an-address": must have the form local@domain`,
			`foyer.yaml: tenants[0].users[3].mail: "a@contoso.com": already used by tenants[0].users[2]`,
			`foyer.yaml: tenants[0].users[4].userPrincipalName: "a@contoso.com": userPrincipalName already used by tenants[0].users[2]`,
			`foyer.yaml: tenants[0].users[5].userPrincipalName: "a b@contoso.com": invalid character ' ' in the local part`,
			`foyer.yaml: tenants[0].users[5].roles[1]: "Global Administrator": listed twice`,
			`foyer.yaml: tenants[0].users[5].roles[2]: "Root": unknown directory role (known: Global Administrator)`,
		},
	}, {
		name: "unknown keys with lines",
		src: `tenants:
  - name: contoso
    kind: external
    displayname: Contoso
    apps:
      - clientId: a
        redirectUri: [https://a.example/cb]
        scopes: [openid]
        clientSecret: inline-secrets-are-not-allowed
    users:
      - mail: a@contoso.com
        password: hunter2
tenant: x
`,
		want: []string{
			`foyer.yaml:4: tenants[0]: unknown field "displayname" (did you mean "displayName"?)`,
			`foyer.yaml:7: tenants[0].apps[0]: unknown field "redirectUri" (did you mean "redirectUris"?)`,
			`foyer.yaml:9: tenants[0].apps[0]: unknown field "clientSecret"`,
			`foyer.yaml:12: tenants[0].users[0]: unknown field "password"`,
			`foyer.yaml:13: unknown field "tenant" (did you mean "tenants"?)`,
		},
	}, {
		name: "wrong types",
		src: `tenants:
  - name: contoso
    kind: external
    passwordMinLength: fifteen
    apps:
      - clientId: a
        redirectUris: https://a.example/cb
        scopes: [openid]
`,
		want: []string{
			"foyer.yaml:4: tenants[0].passwordMinLength: cannot unmarshal !!str `fifteen` into int",
			"foyer.yaml:7: tenants[0].apps[0].redirectUris: cannot unmarshal !!str `https:/...` into []string",
		},
	}, {
		name: "duplicate key",
		src: `tenants:
  - name: contoso
    name: fabrikam
    kind: external
`,
		want: []string{`foyer.yaml:3: tenants[0].name: mapping key "name" already defined at line 2`},
	}, {
		name: "syntax error",
		src:  "tenants:\n  - name: contoso\n    kind: external: workforce\n",
		want: []string{`foyer.yaml:3: mapping values are not allowed in this context`},
	}, {
		name: "two documents",
		src:  "tenants: []\n---\ntenants: []\n",
		want: []string{`foyer.yaml:2: only one YAML document is allowed`},
	}, {
		name: "not a mapping",
		src:  "- name: contoso\n",
		want: []string{`foyer.yaml:1: the document must be a mapping with a tenants list`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"/run/secrets/empty": "\n", "/run/secrets/c": testWebSecret}
			_, err := Parse("foyer.yaml", []byte(tt.src), testSecrets(tt.env, files))
			if err == nil {
				t.Fatal("Parse succeeded, want errors")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid: %v", err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestParseSecretsNotInErrors makes sure no error message quotes a secret.
func TestParseSecretsNotInErrors(t *testing.T) {
	const short = "short-secret-value"
	src := `
tenants:
  - name: contoso
    kind: external
    apps:
      - clientId: a
        redirectUris: [https://a.example/cb]
        scopes: [openid]
        clientSecretEnv: S
`
	_, err := Parse("foyer.yaml", []byte(src), testSecrets(map[string]string{"S": short}, nil))
	if err == nil {
		t.Fatal("short secret accepted")
	}
	if strings.Contains(err.Error(), short) {
		t.Errorf("error quotes the secret: %v", err)
	}
}

// TestDocExample parses the example of the package documentation.
func TestDocExample(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for l := range strings.SplitSeq(string(b), "\n") {
		if l == "//\ttenants:" {
			in = true
		}
		if in {
			if !strings.HasPrefix(l, "//\t") {
				break
			}
			lines = append(lines, strings.TrimPrefix(l, "//\t"))
		}
	}
	if len(lines) < 10 {
		t.Fatalf("example not found in doc.go")
	}
	secrets := testSecrets(map[string]string{
		"CONTOSO_WEB_SECRET":   testWebSecret,
		"FOYER_ADMIN_PASSWORD": testAdminPassword,
	}, nil)
	d := mustParse(t, strings.Join(lines, "\n"), secrets)
	if len(d.Tenants) != 1 || len(d.Tenants[0].Apps) != 2 || len(d.Tenants[0].Users) != 1 {
		t.Errorf("example parsed to %+v", d)
	}
}
