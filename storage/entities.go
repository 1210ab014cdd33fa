package storage

import "time"

// TenantKind is the kind of directory a tenant is.
type TenantKind string

// The two tenant kinds of DESIGN.md section 1.
const (
	// External is a customer directory: customers sign up through an app's
	// sign-up flow and cannot read other users.
	External TenantKind = "external"
	// Workforce is an organisation directory joined through verified domains.
	Workforce TenantKind = "workforce"
	// System is the common issuer's tenant (ID CommonTenantID): it holds the
	// common issuer's keys, sessions and grants, never users or apps.
	System TenantKind = "system"
)

// CommonTenantID is the ID (and name) of the system tenant behind the
// multi-tenant issuer B/common/v2.0.
const CommonTenantID = "common"

// Tenant is a directory with its own users, apps, keys, domains and policy.
type Tenant struct {
	ID          string     `json:"id"`   // GUID
	Name        string     `json:"name"` // unique slug
	DisplayName string     `json:"displayName"`
	Kind        TenantKind `json:"kind"`
	CreatedAt   time.Time  `json:"createdDateTime"`
	// Policy is the tenant's Graph authorizationPolicy.
	Policy AuthorizationPolicy `json:"authorizationPolicy"`
	// PasswordMinLength is the tenant's minimum password length in code
	// points (8 to 256; 0 means the default of 15).
	PasswordMinLength int `json:"passwordMinLength,omitempty"`
	// AccessTokenAlg is "ES256" (the default when empty) or "RS256".
	AccessTokenAlg string `json:"accessTokenAlg,omitempty"`
}

// AuthorizationPolicy is Graph's authorizationPolicy resource (its id is
// always "authorizationPolicy").
type AuthorizationPolicy struct {
	AllowEmailVerifiedUsersToJoinOrganization bool                       `json:"allowEmailVerifiedUsersToJoinOrganization"`
	AllowedToSignUpEmailBasedSubscriptions    bool                       `json:"allowedToSignUpEmailBasedSubscriptions"`
	AllowedToUseSSPR                          bool                       `json:"allowedToUseSSPR"`
	AllowInvitesFrom                          string                     `json:"allowInvitesFrom"`
	DefaultUserRolePermissions                DefaultUserRolePermissions `json:"defaultUserRolePermissions"`
}

// DefaultUserRolePermissions is the part of the policy that governs what
// members may do without a directory role.
type DefaultUserRolePermissions struct {
	AllowedToCreateApps                      bool `json:"allowedToCreateApps"`
	AllowedToCreateTenants                   bool `json:"allowedToCreateTenants"`
	AllowedToReadOtherUsers                  bool `json:"allowedToReadOtherUsers"`
	AllowedToReadBitlockerKeysForOwnedDevice bool `json:"allowedToReadBitlockerKeysForOwnedDevice"`
}

// DefaultPolicy returns the policy a new tenant of kind k starts with:
// self-service sign-up and joining by email verification on (J=S=true),
// reading other users only in workforce tenants.
func DefaultPolicy(k TenantKind) AuthorizationPolicy {
	return AuthorizationPolicy{
		AllowEmailVerifiedUsersToJoinOrganization: true,
		AllowedToSignUpEmailBasedSubscriptions:    true,
		AllowedToUseSSPR:                          true,
		AllowInvitesFrom:                          "everyone",
		DefaultUserRolePermissions: DefaultUserRolePermissions{
			AllowedToReadOtherUsers: k == Workforce,
		},
	}
}

// App is an OIDC client registered in one tenant.
type App struct {
	ClientID    string `json:"clientId"` // globally unique
	TenantID    string `json:"tenantId"`
	DisplayName string `json:"displayName"`
	// SecretHash is SHA-256 of the client secret; empty for public clients.
	SecretHash             []byte   `json:"secretHash,omitempty"`
	RedirectURIs           []string `json:"redirectUris"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris,omitempty"`
	// AllowedScopes lists every scope the app may request (openid included).
	AllowedScopes []string `json:"allowedScopes"`
	SignUpEnabled bool     `json:"signUpEnabled"`
	// SignUpAttributes are profile properties (Graph names, of the
	// self-updatable ones) the app's sign-up flow asks for besides
	// displayName, givenName and surname.
	SignUpAttributes []string `json:"signUpAttributes,omitempty"`
	MultiTenant      bool     `json:"multiTenant"`
	// IDTokenSigningAlg is "RS256" (the default when empty) or "ES256".
	IDTokenSigningAlg string `json:"idTokenSigningAlg,omitempty"`
	// PreConsented marks an app whose scopes the tenant admin granted for
	// every user of the tenant.
	PreConsented bool      `json:"preConsented,omitempty"`
	CreatedAt    time.Time `json:"createdDateTime"`
}

// Confidential reports whether the app authenticates with a secret.
func (a App) Confidential() bool { return len(a.SecretHash) > 0 }

// ObjectIdentity is one of a user's Graph identities.
type ObjectIdentity struct {
	SignInType       string `json:"signInType"` // emailAddress, userPrincipalName, federated
	Issuer           string `json:"issuer"`
	IssuerAssignedID string `json:"issuerAssignedId"`
}

// User is a directory user with Microsoft Graph's field names. The password
// hash is not part of it: it is stored and read apart (Credentials).
type User struct {
	ID                string           `json:"id"`
	DisplayName       string           `json:"displayName,omitempty"`
	GivenName         string           `json:"givenName,omitempty"`
	Surname           string           `json:"surname,omitempty"`
	Mail              string           `json:"mail,omitempty"` // normalised
	UserPrincipalName string           `json:"userPrincipalName"`
	JobTitle          string           `json:"jobTitle,omitempty"`
	City              string           `json:"city,omitempty"`
	Country           string           `json:"country,omitempty"`
	PostalCode        string           `json:"postalCode,omitempty"`
	State             string           `json:"state,omitempty"`
	StreetAddress     string           `json:"streetAddress,omitempty"`
	PreferredLanguage string           `json:"preferredLanguage,omitempty"`
	UserType          string           `json:"userType"`               // Member or Guest
	CreationType      string           `json:"creationType,omitempty"` // empty = null (admin-created)
	Identities        []ObjectIdentity `json:"identities"`
	ExternalUserState string           `json:"externalUserState,omitempty"`
	AccountEnabled    bool             `json:"accountEnabled"`
	CreatedDateTime   time.Time        `json:"createdDateTime"`
	// Roles are the directory roles the user holds in its tenant.
	Roles []string `json:"roles,omitempty"`
}

// AuthRequest is a pending OIDC authorization request and, once the user has
// authenticated, who they are.
type AuthRequest struct {
	ID                  string    `json:"id"`
	TenantID            string    `json:"tenantId"`
	ClientID            string    `json:"clientId"`
	RedirectURI         string    `json:"redirectUri"`
	State               string    `json:"state,omitempty"`
	Nonce               string    `json:"nonce,omitempty"`
	Scopes              []string  `json:"scopes"`
	ResponseType        string    `json:"responseType"`
	ResponseMode        string    `json:"responseMode,omitempty"`
	CodeChallenge       string    `json:"codeChallenge"`
	CodeChallengeMethod string    `json:"codeChallengeMethod"`
	Prompt              []string  `json:"prompt,omitempty"`
	MaxAge              *uint     `json:"maxAge,omitempty"`
	LoginHint           string    `json:"loginHint,omitempty"`
	HintUserID          string    `json:"hintUserId,omitempty"` // sub of id_token_hint
	UILocales           []string  `json:"uiLocales,omitempty"`
	CreatedAt           time.Time `json:"createdAt"`
	// GrantID names the grant the code of this request will issue tokens
	// under; fixed at creation so a replayed code can revoke them.
	GrantID string `json:"grantId"`
	// Set when the user has authenticated (and consented).
	UserID string `json:"userId,omitempty"`
	// HomeTenantID is the tenant the user lives in when it differs from
	// TenantID (the issuer's tenant): requests on the common issuer.
	HomeTenantID string    `json:"homeTenantId,omitempty"`
	AuthTime     time.Time `json:"authTime,omitempty"`
	AMR          []string  `json:"amr,omitempty"`
	Done         bool      `json:"done"`
}

// Grant is one authorization of an app by a user: every access and refresh
// token issued from one code exchange belongs to one grant. Deleting the
// grant revokes all of them at once.
type Grant struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// HomeTenantID is the user's tenant when it differs from TenantID.
	HomeTenantID string    `json:"homeTenantId,omitempty"`
	UserID       string    `json:"userId"`
	ClientID     string    `json:"clientId"`
	Scopes       []string  `json:"scopes"`
	AuthTime     time.Time `json:"authTime"`
	AMR          []string  `json:"amr,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	ExpiresAt    time.Time `json:"expiresAt"` // absolute end of the grant
	// SealedRefresh is the grant's first refresh token sealed for the
	// holder of the authorization code that created the grant, so that the
	// client's retry of that code exchange gets the same token back. Never
	// the token in plain text.
	SealedRefresh []byte `json:"sealedRefresh,omitempty"`
}

// RefreshToken is one refresh token of a grant, stored under the SHA-256 of
// its value. Rotation marks it used and stores its successor.
type RefreshToken struct {
	Hash     string `json:"hash"` // hex SHA-256 of the token
	GrantID  string `json:"grantId"`
	TenantID string `json:"tenantId"`
	// HomeTenantID is the user's tenant when it differs from TenantID.
	HomeTenantID string    `json:"homeTenantId,omitempty"`
	UserID       string    `json:"userId"`
	ClientID     string    `json:"clientId"`
	Scopes       []string  `json:"scopes"`
	Audience     []string  `json:"audience"`
	AuthTime     time.Time `json:"authTime"`
	AMR          []string  `json:"amr,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	ExpiresAt    time.Time `json:"expiresAt"`

	// RotatedAt and Successor describe the rotation of a used token, as
	// GetRefreshToken reads them: when it was rotated and the successor
	// sealed for the holder of this token (Rotation.Sealed). They are not
	// part of the stored token.
	RotatedAt time.Time `json:"-"`
	Successor []byte    `json:"-"`
}

// Rotation is what RotateRefreshToken records with the old token besides
// its successor.
type Rotation struct {
	// Sealed is the successor's value sealed for the holder of the old
	// token; GetRefreshToken returns it as RefreshToken.Successor.
	Sealed []byte
	// Reuse is how long after the rotation the same rotation (the same
	// successor hash) may be repeated while the successor is unused.
	Reuse time.Duration
}

// Session is a browser's SSO session in one tenant, stored under the
// SHA-256 of the cookie value.
type Session struct {
	Hash     string `json:"hash"`
	TenantID string `json:"tenantId"`
	// HomeTenantID is the user's tenant when it differs from TenantID.
	HomeTenantID string    `json:"homeTenantId,omitempty"`
	UserID       string    `json:"userId"`
	AuthTime     time.Time `json:"authTime"`
	AMR          []string  `json:"amr"`
	CreatedAt    time.Time `json:"createdAt"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// SigningKey is one of a tenant's signing keys, its private part encrypted
// with the key-encryption key (the storage never sees it in the clear).
type SigningKey struct {
	ID        string `json:"kid"`
	TenantID  string `json:"tenantId"`
	Algorithm string `json:"alg"` // RS256 or ES256
	// Status is "next" (published, not yet signing), "current" (signing) or
	// "previous" (published until NotAfter, no longer signing).
	Status string `json:"status"`
	// PublicJWK is the public key as a JSON Web Key.
	PublicJWK []byte `json:"publicJwk"`
	// Sealed is the private key, encrypted (AES-256-GCM) under the KEK.
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"createdAt"`
	// NotAfter is when a previous key stops being published; zero otherwise.
	NotAfter time.Time `json:"notAfter,omitempty"`
}

// Key statuses of SigningKey.Status.
const (
	KeyNext     = "next"
	KeyCurrent  = "current"
	KeyPrevious = "previous"
)

// Flow kinds.
const (
	FlowSignUp        = "signUp"
	FlowPasswordReset = "passwordReset"
)

// Flow is a server-side, multi-step browser flow bound to one tenant and one
// address: self-service sign-up or password reset by email code. Every step
// reads and advances it with compare-and-swap, so skipping or replaying a
// step is refused.
type Flow struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	Kind     string `json:"kind"` // FlowSignUp or FlowPasswordReset
	// Path is "app" (an app's sign-up flow) or "join" (domain join through
	// the common issuer).
	Path string `json:"path,omitempty"`
	// AuthRequestID is the authorization request the flow completes, if any.
	AuthRequestID string `json:"authRequestId,omitempty"`
	ClientID      string `json:"clientId,omitempty"`
	// Email is the normalised address being proven.
	Email string `json:"email,omitempty"`
	// Step is "email", "code", "profile" or "done".
	Step string `json:"step"`
	// CodeHash is the HMAC (hex) of the current code; never the code.
	CodeHash      string    `json:"codeHash,omitempty"`
	CodeIssuedAt  time.Time `json:"codeIssuedAt,omitzero"`
	CodeExpiresAt time.Time `json:"codeExpiresAt,omitzero"`
	// CodeAttempts counts wrong submissions of the current code;
	// FlowAttempts counts them over the whole flow (a resend never resets it).
	CodeAttempts int `json:"codeAttempts"`
	FlowAttempts int `json:"flowAttempts"`
	CodesSent    int `json:"codesSent"`
	// Data carries step results (e.g. the home tenant of a domain join).
	Data      map[string]string `json:"data,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
}

// AuditEvent is one entry of a tenant's audit log (Graph directoryAudit
// shaped when served).
type AuditEvent struct {
	// ID is assigned by the store (stream entry ID); empty when appending.
	ID       string    `json:"id,omitempty"`
	Time     time.Time `json:"activityDateTime"`
	Activity string    `json:"activityDisplayName"` // e.g. "signUpAttempt", "codeSent", "userCreated"
	Category string    `json:"category"`            // "UserManagement", "Policy", "Authentication"
	Result   string    `json:"result"`              // "success" or "failure"
	// Reason is the stable reason code of a refusal or failure.
	Reason string `json:"resultReason,omitempty"`
	// Actor is who did it: a user ID, an app's client ID, or "anonymous".
	Actor string `json:"initiatedBy"`
	// Target is what it was done to: a user ID, a masked address, a policy.
	Target     string            `json:"target,omitempty"`
	RequestID  string            `json:"correlationId,omitempty"`
	Properties map[string]string `json:"additionalDetails,omitempty"`
}

// Consent is a user's delegated permission grant to an app (Graph
// oauth2PermissionGrant): the scopes the user agreed the app may use.
type Consent struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenantId"`
	ClientID    string    `json:"clientId"`
	UserID      string    `json:"principalId"`
	Scopes      []string  `json:"scopes"`
	ConsentType string    `json:"consentType"` // "Principal"
	CreatedAt   time.Time `json:"createdDateTime"`
}
