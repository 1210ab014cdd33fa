package oidcop

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/foyer-id/foyer/provider/sso"
	"github.com/foyer-id/foyer/storage"
)

// A client that lost the answer to a token request sends it again. The
// first request may have done its work (the code taken, the refresh token
// rotated) even though the client got a 503 or nothing: the store may have
// answered too late for the request's deadline. Within RetryWindow, while
// the tokens it issued are unused, the same request gets the same refresh
// token back (and new access and ID tokens for the same grant) instead of
// being taken for a replay. To give the same refresh token back without
// storing it, Foyer seals it for the holder of what the client presents:
// AES-256-GCM under a key derived from the presented secret (the old
// refresh token, or the authorization code), which only the store's hash
// of that secret sits beside.

// Labels of the keys derived from presented secrets.
const (
	labelSuccessor   = "foyer/oidcop/refresh-successor/v1" // sealed with the old refresh token
	labelCodeRefresh = "foyer/oidcop/code-refresh/v1"      // sealed with the authorization code
)

// sealFor seals value under a key derived from secret and label, bound to
// aad (the grant ID).
func sealFor(secret, label, aad, value string) []byte {
	g := gcmFor(secret, label)
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(value)+g.Overhead())
	rand.Read(nonce) // never fails
	return g.Seal(nonce, nonce, []byte(value), []byte(aad))
}

// openFor opens what sealFor sealed; false if secret, label or aad differ
// or sealed was altered.
func openFor(secret, label, aad string, sealed []byte) (string, bool) {
	g := gcmFor(secret, label)
	if len(sealed) < g.NonceSize() {
		return "", false
	}
	v, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(aad))
	return string(v), err == nil
}

func gcmFor(secret, label string) cipher.AEAD {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(label))
	block, _ := aes.NewCipher(m.Sum(nil)) // a 32-byte key never fails
	g, _ := cipher.NewGCM(block)
	return g
}

// repeatedRefresh returns the successor of a rotated refresh token when the
// client that holds token may repeat the rotation: within RetryWindow of
// it and with the successor sealed for the token. The rotation itself
// checks again, atomically, that the successor is unused.
func (s *opStorage) repeatedRefresh(rt storage.RefreshToken, token string) (string, bool) {
	if rt.RotatedAt.IsZero() || s.cfg.Clock().Sub(rt.RotatedAt) > s.cfg.RetryWindow {
		return "", false
	}
	return openFor(token, labelSuccessor, rt.GrantID, rt.Successor)
}

// rotate rotates the refresh token current of r and returns the
// successor's value: a new one, or, when the client repeats a rotation,
// the one the first rotation stored. A concurrent request with the same
// token (the client's retry while the first request still ran) may rotate
// it first: the store then changes nothing, and this request repeats that
// rotation, as a later retry would.
func (s *opStorage) rotate(ctx context.Context, tid, current string, r *refreshRequest, now time.Time) (string, error) {
	raw := r.successor
	if raw == "" {
		raw = sso.NewSecret()
	}
	for range 2 {
		next := newRefreshToken(raw, tid, r.GrantID, r.UserID, r.ClientID, r.Scopes, r.Audience, r.AuthTime, r.AMR, now, r.ExpiresAt)
		next.HomeTenantID = r.HomeTenantID
		rot := storage.Rotation{Sealed: sealFor(current, labelSuccessor, r.GrantID, raw), Reuse: s.cfg.RetryWindow}
		err := s.store.RotateRefreshToken(ctx, tid, sso.Hash(current), next, rot)
		if !errors.Is(err, storage.ErrConflict) {
			return raw, err
		}
		rt, err := s.store.GetRefreshToken(ctx, tid, sso.Hash(current))
		if !errors.Is(err, storage.ErrConsumed) {
			return "", cmp.Or(err, storage.ErrConflict)
		}
		var ok bool
		if raw, ok = s.repeatedRefresh(rt, current); !ok {
			return "", storage.ErrConsumed
		}
	}
	return "", storage.ErrConflict
}

// repeatedExchange reports whether the taken code may be exchanged again:
// taken within RetryWindow, and presented with the PKCE verifier its
// request's challenge was made from (zitadel checks the client).
func (s *opStorage) repeatedExchange(ctx context.Context, ar storage.AuthRequest, takeErr error) bool {
	at, ok := storage.TakenAt(takeErr)
	if !ok || s.cfg.Clock().Sub(at) > s.cfg.RetryWindow || !ar.Done {
		return false
	}
	return verifierMatches(state(ctx).codeVerifier, ar)
}

// verifierMatches reports whether v is the PKCE verifier ar's S256
// challenge was made from.
func verifierMatches(v string, ar storage.AuthRequest) bool {
	sum := sha256.Sum256([]byte(v))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return v != "" && ar.CodeChallengeMethod == string(oidc.CodeChallengeMethodS256) &&
		subtle.ConstantTimeCompare([]byte(want), []byte(ar.CodeChallenge)) == 1
}

// wrongVerifier marks a code taken with a wrong PKCE verifier as replayed,
// so that a later exchange, which the verifier would otherwise let repeat
// this one, is refused too: the code is spent, as it always was.
func (s *opStorage) wrongVerifier(ctx context.Context, tid, code string) error {
	err := s.store.PutOnce(ctx, tid, kindReplayed, sso.Hash(code), []byte{'1'}, s.cfg.CodeReplayWindow)
	if err != nil && !errors.Is(err, storage.ErrExists) {
		return err
	}
	return oidc.ErrInvalidGrant().WithDescription("invalid code_verifier")
}

// exchangeGrant creates the grant of a code exchange, with its first
// refresh token when refresh is set, and returns the grant and that
// token. For a repeated exchange whose first attempt created the grant it
// returns the stored grant and the token sealed in it, storing the token
// if the first attempt did not get that far; a token already used makes
// the repetition a replay, which revokes the grant.
func (s *opStorage) exchangeGrant(ctx context.Context, ar *authRequest, life time.Duration, refresh bool) (storage.Grant, string, error) {
	st := state(ctx)
	g := s.grant(ar, life)
	var raw string
	if refresh {
		raw = sso.NewSecret()
		g.SealedRefresh = sealFor(st.code, labelCodeRefresh, g.ID, raw)
	}
	if st.repeated {
		// A replay of the code revoked what it issued and forbids issuing
		// more, also when the first attempt never created the grant.
		if err := s.codeNotReplayed(ctx, g.TenantID, g.ID); err != nil {
			return g, "", err
		}
	}
	err := s.store.CreateGrant(ctx, g.TenantID, g)
	if err == nil && st.repeated {
		// Checked again now that the grant exists: a replay that marked
		// the code before this point is seen here, and one that marks it
		// after revokes this grant itself.
		err = s.codeNotReplayed(ctx, g.TenantID, g.ID)
	}
	if err == nil || !st.repeated || !errors.Is(err, storage.ErrExists) {
		if err == nil && refresh {
			err = s.store.SaveRefreshToken(ctx, g.TenantID, s.refreshToken(g, raw))
		}
		return g, raw, err
	}
	// The first attempt created the grant.
	if g, err = s.store.GetGrant(ctx, g.TenantID, g.ID); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return g, "", oidc.ErrInvalidGrant().WithDescription("code already used")
		}
		return g, "", err
	}
	if !refresh {
		return g, "", nil
	}
	raw, ok := openFor(st.code, labelCodeRefresh, g.ID, g.SealedRefresh)
	if !ok {
		return g, "", s.codeReplayed(ctx, g.TenantID, st.code, g.ID)
	}
	switch _, err := s.store.GetRefreshToken(ctx, g.TenantID, sso.Hash(raw)); {
	case errors.Is(err, storage.ErrNotFound):
		err = s.store.SaveRefreshToken(ctx, g.TenantID, s.refreshToken(g, raw))
		return g, raw, err
	case errors.Is(err, storage.ErrConsumed):
		// The client used the token it got: this is not its retry.
		return g, "", s.codeReplayed(ctx, g.TenantID, st.code, g.ID)
	case err != nil:
		return g, "", err
	}
	return g, raw, nil
}

// codeReplayed marks the code replayed, revokes the grant it issued and
// returns the error the token endpoint answers (RFC 6749 section 4.1.2).
// The mark keeps a repeated exchange from issuing anything after it.
func (s *opStorage) codeReplayed(ctx context.Context, tid, code, grantID string) error {
	err := s.store.PutOnce(ctx, tid, kindReplayed, sso.Hash(code), []byte{'1'}, s.cfg.CodeReplayWindow)
	if err != nil && !errors.Is(err, storage.ErrExists) {
		return err
	}
	if err := s.store.RevokeGrant(ctx, tid, grantID); err != nil {
		return err
	}
	s.cfg.Logger.WarnContext(ctx, "authorization code replayed; grant revoked", "tenant", tid, "grant", grantID)
	return oidc.ErrInvalidGrant().WithDescription("code already used")
}

// codeNotReplayed fails a repeated exchange, revoking its grant, if the
// code was marked replayed. Only repeated exchanges pay for the check.
func (s *opStorage) codeNotReplayed(ctx context.Context, tid, grantID string) error {
	_, err := s.store.TakeOnce(ctx, tid, kindReplayed, sso.Hash(state(ctx).code), s.cfg.CodeReplayWindow)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err == nil || errors.Is(err, storage.ErrConsumed):
		if err := s.store.RevokeGrant(ctx, tid, grantID); err != nil {
			return err
		}
		return oidc.ErrInvalidGrant().WithDescription("code already used")
	}
	return err
}
