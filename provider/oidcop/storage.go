package oidcop

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/provider/bearer"
	"github.com/foyer-id/foyer/provider/sso"
	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
)

// Store is the state the protocol layer reads and writes.
type Store interface {
	storage.Apps
	storage.AuthRequests
	storage.Grants
	storage.Sessions
	GetUser(ctx context.Context, tenantID, userID string) (storage.User, error)
	Ping(ctx context.Context) error
}

// Keys gives the tenants' signing and verification keys.
type Keys interface {
	bearer.Keys
	// JWKS is the tenant's published key set as JSON.
	JWKS(ctx context.Context, tenantID string) ([]byte, error)
}

// Single-use kinds in storage.AuthRequests.PutOnce/TakeOnce.
const (
	kindCode   = "code"   // SHA-256(code) -> codeRecord
	kindIssued = "issued" // auth request ID -> "1" once a code was issued for it
	kindLogout = "logout" // pending logout confirmation -> logoutRecord
	// kindReplayed marks a code whose replay revoked its grant:
	// SHA-256(code) -> "1".
	kindReplayed = "replayed"
)

type codeRecord struct {
	AuthRequestID string `json:"authRequestId"`
	GrantID       string `json:"grantId"`
	// Request is the completed request the code was issued for: the
	// exchange reads it from here, and a repeated exchange finds it after
	// zitadel deleted the request. Codes issued before it was recorded
	// lack it and read the request from the store.
	Request *storage.AuthRequest `json:"request,omitempty"`
}

type logoutRecord struct {
	RedirectURI string `json:"redirectUri"`
}

// opStorage implements op.Storage over Store for every tenant; the tenant of
// each call comes from the context.
type opStorage struct {
	store  Store
	keys   Keys
	tokens *bearer.Tokens
	urls   tenancy.URLs
	cfg    *Config
}

var (
	_ op.Storage                        = (*opStorage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*opStorage)(nil)
	_ op.CanTerminateSessionFromRequest = (*opStorage)(nil)
)

func tenantID(ctx context.Context) string {
	t, _ := tenancy.FromContext(ctx)
	return t.ID
}

// --- auth requests and codes ---

func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintUserID string) (op.AuthRequest, error) {
	// The guard refused these already; checking again keeps the rule true
	// for any path into the library.
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required")
	}
	ar := storage.AuthRequest{
		ID:                  sso.NewSecret(),
		TenantID:            tenantID(ctx),
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		Nonce:               req.Nonce,
		Scopes:              req.Scopes,
		ResponseType:        string(req.ResponseType),
		ResponseMode:        string(req.ResponseMode),
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt:              req.Prompt,
		MaxAge:              req.MaxAge,
		LoginHint:           req.LoginHint,
		HintUserID:          hintUserID,
		CreatedAt:           s.cfg.Clock(),
		GrantID:             storage.NewID(),
	}
	for _, l := range req.UILocales {
		ar.UILocales = append(ar.UILocales, l.String())
	}
	if err := s.store.SaveAuthRequest(ctx, ar.TenantID, ar, s.cfg.AuthRequestLifetime); err != nil {
		return nil, err
	}
	return &authRequest{ar}, nil
}

func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	ar, err := s.store.GetAuthRequest(ctx, tenantID(ctx), id)
	if err != nil {
		return nil, err
	}
	return &authRequest{ar}, nil
}

// SaveAuthCode records the code zitadel built with tokenCodec.Encrypt. One
// auth request yields at most one code.
func (s *opStorage) SaveAuthCode(ctx context.Context, id, code string) error {
	tid := tenantID(ctx)
	ar, err := s.store.GetAuthRequest(ctx, tid, id)
	if err != nil {
		return err
	}
	if err := s.store.PutOnce(ctx, tid, kindIssued, id, []byte{'1'}, s.cfg.AuthRequestLifetime); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return oidc.ErrInvalidRequest().WithDescription("a code was already issued for this request")
		}
		return err
	}
	rec, _ := json.Marshal(codeRecord{AuthRequestID: id, GrantID: ar.GrantID, Request: &ar})
	return s.store.PutOnce(ctx, tid, kindCode, sso.Hash(code), rec, s.cfg.CodeLifetime)
}

// AuthRequestByCode consumes the code. A replayed code revokes the grant it
// issued (RFC 6749 section 4.1.2) and fails, unless it is the client
// repeating its exchange (repeatedExchange).
func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	tid := tenantID(ctx)
	raw, err := s.store.TakeOnce(ctx, tid, kindCode, sso.Hash(code), s.cfg.CodeReplayWindow)
	var rec codeRecord
	if raw != nil {
		if jerr := json.Unmarshal(raw, &rec); jerr != nil {
			return nil, jerr
		}
	}
	if errors.Is(err, storage.ErrConsumed) {
		if rec.Request != nil && s.repeatedExchange(ctx, *rec.Request, err) {
			st := state(ctx)
			st.code, st.repeated = code, true
			return &authRequest{*rec.Request}, nil
		}
		return nil, s.codeReplayed(ctx, tid, code, rec.GrantID)
	}
	if err != nil {
		return nil, err
	}
	var ar storage.AuthRequest
	if rec.Request != nil {
		ar = *rec.Request
	} else if ar, err = s.store.GetAuthRequest(ctx, tid, rec.AuthRequestID); err != nil {
		return nil, err
	}
	if !ar.Done {
		return nil, oidc.ErrInvalidGrant()
	}
	if !verifierMatches(state(ctx).codeVerifier, ar) {
		return nil, s.wrongVerifier(ctx, tid, code)
	}
	state(ctx).code = code
	return &authRequest{ar}, nil
}

func (s *opStorage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.store.DeleteAuthRequest(ctx, tenantID(ctx), id)
}

// --- tokens ---

func (s *opStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	ar, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	g, _, err := s.exchangeGrant(ctx, ar, s.tokens.Lifetime(), false)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.mint(ctx, g.HomeTenantID, g.ID, g.UserID, g.ClientID, g.Scopes, g.AuthTime)
}

func (s *opStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	tid := tenantID(ctx)
	now := s.cfg.Clock()
	switch r := req.(type) {
	case *authRequest:
		g, rt, err := s.exchangeGrant(ctx, r, s.cfg.RefreshTokenLifetime, true)
		if err != nil {
			return "", "", time.Time{}, err
		}
		at, exp, err := s.mint(ctx, g.HomeTenantID, g.ID, g.UserID, g.ClientID, g.Scopes, g.AuthTime)
		return at, rt, exp, err
	case *refreshRequest:
		rt, err := s.rotate(ctx, tid, current, r, now)
		if err != nil {
			if errors.Is(err, storage.ErrConsumed) || errors.Is(err, storage.ErrNotFound) {
				return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token is invalid, expired or was already used")
			}
			return "", "", time.Time{}, err
		}
		at, exp, err := s.mint(ctx, r.HomeTenantID, r.GrantID, r.UserID, r.ClientID, r.Scopes, r.AuthTime)
		return at, rt, exp, err
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

// grant returns the grant a code exchange of ar creates.
func (s *opStorage) grant(ar *authRequest, life time.Duration) storage.Grant {
	now := s.cfg.Clock()
	return storage.Grant{
		ID:           ar.GrantID,
		TenantID:     ar.TenantID,
		HomeTenantID: ar.HomeTenantID,
		UserID:       ar.UserID,
		ClientID:     ar.ClientID,
		Scopes:       ar.Scopes,
		AuthTime:     ar.AuthTime,
		AMR:          ar.AMR,
		CreatedAt:    now,
		ExpiresAt:    now.Add(life),
	}
}

// refreshToken returns the first refresh token of grant g, whose value is
// raw.
func (s *opStorage) refreshToken(g storage.Grant, raw string) storage.RefreshToken {
	rt := newRefreshToken(raw, g.TenantID, g.ID, g.UserID, g.ClientID, g.Scopes, []string{g.ClientID}, g.AuthTime, g.AMR, g.CreatedAt, g.ExpiresAt)
	rt.HomeTenantID = g.HomeTenantID
	return rt
}

func newRefreshToken(raw, tid, grantID, userID, clientID string, scopes, aud []string, authTime time.Time, amr []string, now, exp time.Time) storage.RefreshToken {
	return storage.RefreshToken{
		Hash: sso.Hash(raw), GrantID: grantID, TenantID: tid, UserID: userID, ClientID: clientID,
		Scopes: scopes, Audience: aud, AuthTime: authTime, AMR: amr, CreatedAt: now, ExpiresAt: exp,
	}
}

// mint signs an access token; its value travels to zitadel as the "token
// ID" and comes back through tokenCodec.Encrypt. home is the user's tenant
// when it is not the issuer's.
func (s *opStorage) mint(ctx context.Context, home, grantID, userID, clientID string, scopes []string, authTime time.Time) (string, time.Time, error) {
	t, _ := tenancy.FromContext(ctx)
	at, c, err := s.tokens.Mint(ctx, bearer.Grant{
		TenantID: t.ID, HomeTenantID: home, GrantID: grantID, UserID: userID, ClientID: clientID,
		Scopes: scopes, AuthTime: authTime, Alg: t.AccessTokenAlg,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	state(ctx).issued = &clientInfo{UID: userID, UTID: cmp.Or(home, t.ID)}
	return at, c.Expires(), nil
}

func (s *opStorage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	tid := tenantID(ctx)
	rt, err := s.store.GetRefreshToken(ctx, tid, sso.Hash(token))
	if errors.Is(err, storage.ErrConsumed) {
		if next, ok := s.repeatedRefresh(rt, token); ok {
			// The client repeats a refresh whose answer it lost.
			return &refreshRequest{RefreshToken: rt, raw: token, successor: next}, nil
		}
		// Replay of a rotated token: the family is compromised.
		if rerr := s.store.RevokeGrant(ctx, tid, rt.GrantID); rerr != nil {
			return nil, rerr
		}
		s.cfg.Logger.WarnContext(ctx, "refresh token replayed; grant revoked", "tenant", tid, "grant", rt.GrantID)
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token was already used")
	}
	if err != nil {
		return nil, err
	}
	return &refreshRequest{RefreshToken: rt, raw: token}, nil
}

func (s *opStorage) TerminateSession(ctx context.Context, userID, clientID string) error {
	return errors.New("oidcop: TerminateSession is replaced by TerminateSessionFromRequest")
}

// TerminateSessionFromRequest ends the browser's session when the RP sent a
// valid id_token_hint for the session's user; otherwise it sends the user
// to a confirmation page.
func (s *opStorage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	tid := tenantID(ctx)
	st := state(ctx)
	redirect := req.RedirectURI
	if req.ClientID == "" || redirect == "" {
		redirect = s.urls.TenantPath(tid, "/logout/done")
	}
	if req.ClientID == "" && st.postLogoutRedirectURI != "" {
		// No client named it (msal-browser's logoutRedirect sends neither
		// client_id nor id_token_hint): the URI must be one an app of this
		// tenant registered, byte for byte, or the signed-out page it is.
		ok, err := s.registeredPostLogout(ctx, tid, st.postLogoutRedirectURI)
		if err != nil {
			return "", err
		}
		if ok {
			redirect = withLogoutState(st.postLogoutRedirectURI, st.logoutState)
		}
	}
	if req.IDTokenHintClaims != nil && st.sessionHash != "" {
		sess, err := s.store.GetSession(ctx, tid, st.sessionHash)
		switch {
		case err == nil && sess.UserID == req.UserID:
			if err := s.store.DeleteSession(ctx, tid, st.sessionHash); err != nil {
				return "", err
			}
			st.clearSession = true
			return redirect, nil
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return "", err
		}
	}
	id := sso.NewSecret()
	rec, _ := json.Marshal(logoutRecord{RedirectURI: redirect})
	if err := s.store.PutOnce(ctx, tid, kindLogout, id, rec, s.cfg.AuthRequestLifetime); err != nil {
		return "", err
	}
	return s.urls.TenantPath(tid, "/logout?id="+id), nil
}

// registeredPostLogout reports whether uri is a post-logout redirect URI
// registered, exactly, by an app of the tenant. The common issuer has no
// apps of its own, so nothing is registered there.
func (s *opStorage) registeredPostLogout(ctx context.Context, tid, uri string) (bool, error) {
	if tid == storage.CommonTenantID {
		return false, nil
	}
	apps, err := s.store.ListApps(ctx, tid)
	if err != nil {
		return false, err
	}
	for _, a := range apps {
		if slices.Contains(a.PostLogoutRedirectURIs, uri) {
			return true, nil
		}
	}
	return false, nil
}

// withLogoutState adds the RP's state to a post-logout redirect URI, as zitadel
// does for the URIs it validated itself.
func withLogoutState(uri, st string) string {
	if st == "" {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	q.Set("state", st)
	u.RawQuery = q.Encode()
	return u.String()
}

// RevokeToken revokes one access token (when tokenOrID is the jti of the
// access token verified in this request) or a refresh token's whole grant
// (tokenOrID is then the token's hash from GetRefreshTokenInfo, or the raw
// token). Only the client the token was issued to may revoke it; unknown
// tokens are not an error (RFC 7009).
func (s *opStorage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	tid := tenantID(ctx)
	if c := state(ctx).claims; c != nil && c.ID == tokenOrID {
		if c.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
		}
		if err := s.store.RevokeAccessToken(ctx, tid, c.ID, c.Expires()); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	}
	rt, err := s.store.GetRefreshToken(ctx, tid, tokenOrID)
	if errors.Is(err, storage.ErrNotFound) && userID == "" {
		rt, err = s.store.GetRefreshToken(ctx, tid, sso.Hash(tokenOrID))
	}
	if err != nil && !errors.Is(err, storage.ErrConsumed) {
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return oidc.ErrServerError().WithParent(err)
	}
	if rt.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
	}
	if err := s.store.RevokeGrant(ctx, tid, rt.GrantID); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo returns the user and the token's hash (its ID).
func (s *opStorage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	h := sso.Hash(token)
	rt, err := s.store.GetRefreshToken(ctx, tenantID(ctx), h)
	if err != nil && !errors.Is(err, storage.ErrConsumed) {
		if errors.Is(err, storage.ErrNotFound) {
			return "", "", op.ErrInvalidRefreshToken
		}
		return "", "", err
	}
	return rt.UserID, h, nil
}

// --- keys ---

// SigningKey is the ID-token key: RS256 unless the client being served
// registered ES256.
func (s *opStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := string(jose.RS256)
	if state(ctx).idTokenAlg == string(jose.ES256) {
		alg = string(jose.ES256)
	}
	k, err := s.keys.Signer(ctx, tenantID(ctx), alg)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256, jose.ES256}, nil
}

type publicKey struct{ k jose.JSONWebKey }

func (k publicKey) ID() string                         { return k.k.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Algorithm) }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.k.Key }

func (s *opStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	pub, err := s.keys.PublicKeys(ctx, tenantID(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(pub))
	for i, k := range pub {
		out[i] = publicKey{k}
	}
	return out, nil
}

// --- clients ---

// app returns the client of the request's tenant. On the common issuer the
// app lives in its own tenant and must be registered as multiTenant. One
// request reads an app once: zitadel asks for the client several times per
// token request (lookup, secret check).
func (s *opStorage) app(ctx context.Context, clientID string) (storage.App, error) {
	st := state(ctx)
	if a, ok := st.apps[clientID]; ok {
		return a, nil
	}
	a, err := s.loadApp(ctx, clientID)
	if err == nil {
		if st.apps == nil {
			st.apps = map[string]storage.App{}
		}
		st.apps[clientID] = a
	}
	return a, err
}

func (s *opStorage) loadApp(ctx context.Context, clientID string) (storage.App, error) {
	tid := tenantID(ctx)
	if tid != storage.CommonTenantID {
		return s.store.GetApp(ctx, tid, clientID)
	}
	home, err := s.store.AppTenant(ctx, clientID)
	if err != nil {
		return storage.App{}, err
	}
	app, err := s.store.GetApp(ctx, home, clientID)
	if err != nil {
		return storage.App{}, err
	}
	if !app.MultiTenant {
		return storage.App{}, fmt.Errorf("%w: app %s is not multi-tenant", storage.ErrNotFound, clientID)
	}
	return app, nil
}

// GetClientByClientID returns invalid_client for an unknown client, never
// the store's error text.
func (s *opStorage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	tid := tenantID(ctx)
	app, err := s.app(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if err != nil {
		return nil, err
	}
	state(ctx).idTokenAlg = app.IDTokenSigningAlg
	return &client{
		app:      app,
		idTTL:    s.cfg.IDTokenLifetime,
		loginURL: func(id string) string { return s.urls.TenantPath(tid, "/login?id="+id) },
	}, nil
}

// dummySecretHash keeps the unknown-client path as costly as a real check.
var dummySecretHash = sha256.Sum256([]byte("foyer: no such client"))

// AuthorizeClientIDSecret compares SHA-256 of the presented secret with the
// stored hash in constant time.
func (s *opStorage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	app, err := s.app(ctx, clientID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	got := sha256.Sum256([]byte(secret))
	want := dummySecretHash[:]
	if app.Confidential() {
		want = app.SecretHash
	}
	if subtle.ConstantTimeCompare(got[:], want) != 1 || !app.Confidential() {
		return errors.New("invalid client credentials")
	}
	return nil
}

// --- claims ---

func (s *opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil // deprecated by zitadel; SetUserinfoFromRequest does the work
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	home := ""
	switch r := req.(type) {
	case *authRequest:
		home = r.HomeTenantID
	case *refreshRequest:
		home = r.HomeTenantID
	}
	return s.fillUserinfo(ctx, info, req.GetSubject(), home, scopes)
}

// SetUserinfoFromToken serves the userinfo endpoint for an access token
// that the handler verified in this request (preverify), issued with the
// openid scope, whose user still exists. Its errors are RFC 6750's, which
// conform turns into the Bearer challenge.
func (s *opStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	c := state(ctx).claims
	if c == nil || c.ID != tokenID || c.Subject != subject {
		return errInvalidToken("The access token is invalid, expired or revoked.")
	}
	if !c.HasScope(oidc.ScopeOpenID) {
		return errInsufficientScope()
	}
	err := s.fillUserinfo(ctx, info, subject, c.TenantID, c.Scopes())
	if errors.Is(err, storage.ErrNotFound) {
		return errInvalidToken("The user of the access token no longer exists.")
	}
	return err
}

// fillUserinfo sets the claims of the user, who lives in home or, when
// home is empty, in the request's tenant.
func (s *opStorage) fillUserinfo(ctx context.Context, info *oidc.UserInfo, userID, home string, scopes []string) error {
	tid := cmp.Or(home, tenantID(ctx))
	u, err := s.store.GetUser(ctx, tid, userID)
	if err != nil {
		return err
	}
	info.Subject = u.ID
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = u.DisplayName
		info.GivenName = u.GivenName
		info.FamilyName = u.Surname
		info.PreferredUsername = preferredUsername(u)
		if u.PreferredLanguage != "" {
			info.Locale = oidc.NewLocale(parseLang(u.PreferredLanguage))
		}
	}
	if slices.Contains(scopes, oidc.ScopeEmail) && u.Mail != "" {
		info.Email = u.Mail
		info.EmailVerified = oidc.Bool(emailVerified(u))
	}
	info.AppendClaims("oid", u.ID)
	info.AppendClaims("tid", tid)
	info.AppendClaims("ver", "2.0")
	return nil
}

func preferredUsername(u storage.User) string {
	if u.Mail != "" {
		return u.Mail
	}
	return u.UserPrincipalName
}

// emailVerified is true when the address was proven by a code: customers
// and email-verified members have an emailAddress identity created at
// sign-up.
func emailVerified(u storage.User) bool {
	for _, id := range u.Identities {
		if id.SignInType == "emailAddress" && id.IssuerAssignedID == u.Mail {
			return true
		}
	}
	return false
}

// SetIntrospectionFromToken answers for an access token that
// tokenCodec.Decrypt verified in this request (revocation included).
func (s *opStorage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	c := state(ctx).claims
	if c == nil || c.ID != tokenID || c.Subject != subject {
		return oidc.ErrAccessDenied()
	}
	resp.Scope = oidc.SpaceDelimitedArray(c.Scopes())
	resp.ClientID = c.ClientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(time.Unix(c.Expiry, 0))
	resp.IssuedAt = oidc.FromTime(time.Unix(c.IssuedAt, 0))
	resp.NotBefore = oidc.FromTime(time.Unix(c.NotBefore, 0))
	resp.Subject = c.Subject
	resp.Audience = oidc.Audience{c.Audience}
	resp.Issuer = c.Issuer
	resp.JWTID = c.ID
	resp.Claims = map[string]any{"oid": c.ObjectID, "tid": c.TenantID}
	return nil
}

func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidcop: JWT client authentication is not supported")
}

func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidcop: the JWT profile grant is not supported")
}

func (s *opStorage) Health(ctx context.Context) error { return s.store.Ping(ctx) }

// errNotAccessToken is returned by tokenCodec for anything but a valid
// access token.
var errNotAccessToken = fmt.Errorf("oidcop: not a valid access token")
