// Package provision applies a declarative YAML document of tenants, verified
// domains, authorization policies, apps and users to the store, the file of
// `foyer serve --config` (DESIGN.md section 7), and builds the document of
// `--dev`.
//
// # Document
//
// Field names follow Microsoft Graph where Graph has the concept:
//
//	tenants:
//	  - name: contoso                 # required: unique slug, [a-z0-9-]{2,63}
//	    id: 5f0c6a1e-3b1d-4c4e-9a57-2f1a7e0b9c11  # optional GUID
//	    displayName: Contoso
//	    kind: external                # required: external | workforce
//	    domains: [contoso.com]        # declared verified in this tenant
//	    passwordMinLength: 15         # 8..256
//	    accessTokenAlg: ES256         # ES256 | RS256
//	    authorizationPolicy:          # partial: unset fields keep their value
//	      allowedToSignUpEmailBasedSubscriptions: true
//	      allowEmailVerifiedUsersToJoinOrganization: true
//	      allowedToUseSSPR: true
//	      allowInvitesFrom: everyone  # none | adminsAndGuestInviters |
//	                                  # adminsGuestInvitersAndAllMembers | everyone
//	      defaultUserRolePermissions:
//	        allowedToReadOtherUsers: false  # must be false in external tenants
//	    apps:
//	      - clientId: contoso-spa
//	        displayName: Contoso SPA
//	        redirectUris: [http://localhost:3000/callback]
//	        postLogoutRedirectUris: [http://localhost:3000/]
//	        scopes: [openid, profile, email, offline_access, User.Read]
//	        signUpEnabled: true       # external tenants only
//	        signUpAttributes: [city, country]  # asked at sign-up besides the name fields
//	        multiTenant: false
//	        preConsented: false
//	        idTokenSigningAlg: RS256  # RS256 | ES256
//	      - clientId: contoso-web     # confidential: it has a secret
//	        redirectUris: [https://app.contoso.com/callback]
//	        scopes: [openid, profile]
//	        clientSecretEnv: CONTOSO_WEB_SECRET    # from the environment,
//	        # clientSecretFile: /run/secrets/web   # or from a file
//	    users:
//	      - userPrincipalName: admin@contoso.com  # defaults to mail
//	        mail: admin@contoso.com
//	        displayName: Admin
//	        givenName: Ada
//	        surname: Admin
//	        roles: [Global Administrator]
//	        passwordEnv: FOYER_ADMIN_PASSWORD     # or passwordFile
//	        resetPassword: false
//
// Secrets are never written in the document: a client secret or password is
// read from the environment variable or file the document names (a file's
// trailing line break is dropped). Parse reads them all, so a missing or
// empty one is a validation error even when the apply would not need it.
//
// # Validation
//
// Parse checks the whole document before anything is written and reports
// every problem at once (errors.Join), each naming the file, the YAML path
// and what is wrong:
//
//	foyer.yaml: tenants[0].apps[1].redirectUris[2]: "http://evil.example/cb": http is allowed only for localhost/127.0.0.1/[::1]
//	foyer.yaml:14: tenants[0].apps[0]: unknown field "redirectUri" (did you mean "redirectUris"?)
//
// Unknown keys are errors, with their line. The rules: tenant names are
// slugs, not reserved (common, organizations, consumers, healthz, readyz,
// metrics) and not GUID-shaped; IDs are GUIDs; kind is external or
// workforce; domains are lower-case DNS names, each in one tenant only;
// redirect and post-logout URIs are absolute, https (http only for
// localhost, 127.0.0.1 and [::1]), without fragment, user info or wildcard;
// scopes are from the known list and include openid; client IDs are unique;
// idTokenSigningAlg is RS256 or ES256; passwordMinLength is 8 to 256;
// client secrets have at least 32 bytes; env and file secrets exist and are
// not empty; roles are known directory roles. Apply adds the rules that
// need the store: a domain or client ID held by another tenant, a tenant
// whose name or kind would change, a mail or UPN taken by another user, a
// role for an existing external user of an external tenant (one without a
// userPrincipalName identity; roles are for internal users only), and a
// password shorter than the tenant's minimum or refused by
// Config.CheckPassword. Mail addresses and UPNs are normalised to lower
// case.
//
// # Applying
//
// Apply is idempotent: it reads first and writes only objects that differ
// from the document, so applying the same document twice reports no change
// the second time and leaves the store as it was. Keys:
//
//   - a tenant is found by id when given, else by name (a new tenant without
//     id gets a random GUID); its name and kind cannot change;
//   - a domain is added when missing; domains verified otherwise (DNS) are
//     never removed;
//   - an app is found by clientId. The document is authoritative for the
//     apps it lists: every field is set as written and an app without a
//     secret is public. The secret is stored only as its SHA-256, so a
//     changed secret (a rotated environment variable) is detected and
//     stored, an unchanged one is not rewritten;
//   - a user is found by userPrincipalName, else by mail. Only the fields
//     the document sets are managed (displayName, givenName, surname, mail,
//     userPrincipalName, and roles when the key is present: `roles: []`
//     removes them). A user created by provisioning is a Member with a null
//     creationType (admin-created) and accountEnabled true; later applies
//     never change accountEnabled. A user with mail gets an emailAddress
//     identity; a user with roles, or without mail, is an internal user with
//     a userPrincipalName identity. The identities' issuer is the tenant's
//     name.
//
// Passwords: the document's password is set when the user is created, or
// when an existing user has no password; otherwise it is left alone and
// never re-hashed, so users may change it. With resetPassword: true it is
// set on every apply (and the user counts as updated each time): use it once
// to recover an account, then remove it.
//
// Apply calls Config.Keys.EnsureKeys for every tenant of the document.
//
// # Dev
//
// Dev builds the document of `foyer serve --dev` in code and returns the
// generated passwords and client secret for the caller to print once. They
// are generated only for users and apps that do not exist yet.
package provision
