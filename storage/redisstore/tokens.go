package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage"
)

// SaveAuthRequest stores ar for ttl; it returns storage.ErrExists if the ID
// is taken.
func (s *Store) SaveAuthRequest(ctx context.Context, tenantID string, ar storage.AuthRequest, ttl time.Duration) error {
	ar.TenantID = tenantID
	raw, err := encode(ar)
	if err != nil {
		return err
	}
	ok, err := s.createNX(ctx, tkey(tenantID, "authreq", ar.ID), raw, atLeastMS(ttl), "", "")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: auth request %s", storage.ErrExists, ar.ID)
	}
	return nil
}

// GetAuthRequest returns storage.ErrNotFound if the request does not exist
// or expired.
func (s *Store) GetAuthRequest(ctx context.Context, tenantID, id string) (storage.AuthRequest, error) {
	return get[storage.AuthRequest](ctx, s, tkey(tenantID, "authreq", id))
}

// UpdateAuthRequest applies fn to the request with compare-and-swap,
// keeping its remaining TTL.
func (s *Store) UpdateAuthRequest(ctx context.Context, tenantID, id string, fn func(*storage.AuthRequest) error) (storage.AuthRequest, error) {
	return cas[storage.AuthRequest]{key: tkey(tenantID, "authreq", id)}.apply(ctx, s, fn)
}

// DeleteAuthRequest deletes the request; a missing one is not an error.
func (s *Store) DeleteAuthRequest(ctx context.Context, tenantID, id string) error {
	return fail(ctx, s.rdb.Del(ctx, tkey(tenantID, "authreq", id)).Err())
}

// PutOnce stores a single-use value under (kind, id) for ttl. It returns
// storage.ErrExists if one is stored there, used or not.
func (s *Store) PutOnce(ctx context.Context, tenantID, kind, id string, value []byte, ttl time.Duration) error {
	fresh := append([]byte{'0'}, value...)
	ok, err := s.createNX(ctx, tkey(tenantID, "once", kind, id), fresh, atLeastMS(ttl), "", "")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s %s", storage.ErrExists, kind, id)
	}
	return nil
}

// TakeOnce consumes the value under (kind, id): the first caller, and a
// resend of its command, gets it; later callers get it with a
// *storage.TakenError for keep after the first take (keep <= 0 leaves no
// tombstone). It returns storage.ErrNotFound if nothing is stored or the
// value expired.
func (s *Store) TakeOnce(ctx context.Context, tenantID, kind, id string, keep time.Duration) ([]byte, error) {
	now := fmt.Sprintf("%016d", s.now().UnixMilli())
	res, err := takeOnce.Run(ctx, s.rdb, []string{tkey(tenantID, "once", kind, id)}, max(keep.Milliseconds(), 0), opID(ctx), now).Slice()
	if err == nil && len(res) < 2 {
		err = fmt.Errorf("takeOnce replied %v", res)
	}
	if err != nil {
		return nil, fail(ctx, err)
	}
	used, _ := res[0].(int64)
	value, _ := res[1].(string)
	if used == 1 {
		te := &storage.TakenError{What: kind}
		if len(res) > 2 {
			if at, _ := res[2].(string); at != "" {
				if ms, err := strconv.ParseInt(at, 10, 64); err == nil {
					te.At = time.UnixMilli(ms).UTC()
				}
			}
		}
		return []byte(value), te
	}
	return []byte(value), nil
}

// putIndexed stores v under key until end and adds member to the per-user
// index; with exclusive, it reports false instead of overwriting.
func (s *Store) putIndexed(ctx context.Context, key, index, member string, v any, end time.Time, exclusive bool, tombstone ...string) (bool, error) {
	raw, err := encode(v)
	if err != nil {
		return false, err
	}
	now := s.now()
	ttl := atLeastMS(end.Sub(now))
	args := []any{raw, ttl.Milliseconds(), member, now.Add(ttl).UnixMilli(), now.UnixMilli(), exclusive}
	n, err := s.evalOp(ctx, putIndexed, opID(ctx), append([]string{key, index}, tombstone...), args...).Int64()
	return n == 1, fail(ctx, err)
}

// CreateGrant stores g until g.ExpiresAt; it returns storage.ErrExists if
// the ID is taken.
func (s *Store) CreateGrant(ctx context.Context, tenantID string, g storage.Grant) error {
	g.TenantID = tenantID
	key, index := tkey(tenantID, "grant", g.ID), tkey(tenantID, "user-grants", g.UserID)
	ok, err := s.putIndexed(ctx, key, index, g.ID, g, g.ExpiresAt, true, tkey(tenantID, "grant-ended", g.ID))
	if err == nil && !ok {
		return fmt.Errorf("%w: grant %s", storage.ErrExists, g.ID)
	}
	return err
}

// GetGrant returns storage.ErrNotFound if the grant expired or was revoked.
func (s *Store) GetGrant(ctx context.Context, tenantID, grantID string) (storage.Grant, error) {
	return get[storage.Grant](ctx, s, tkey(tenantID, "grant", grantID))
}

// grantTombstone is how long a revoked grant's ID stays refused by
// CreateGrant: longer than any window in which a client may repeat the
// code exchange that created it (oidcop's RetryWindow), so that a repeated
// exchange cannot bring back a grant revoked meanwhile.
const grantTombstone = time.Hour

// RevokeGrant deletes the grant, which ends every token issued under it.
// Revoking a missing grant is not an error.
func (s *Store) RevokeGrant(ctx context.Context, tenantID, grantID string) error {
	g, err := s.GetGrant(ctx, tenantID, grantID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.revoke(ctx, tenantID, g.UserID, []string{g.ID})
	return err
}

// revoke deletes the user's grants ids and returns how many existed.
func (s *Store) revoke(ctx context.Context, tenantID, userID string, ids []string) (int, error) {
	keys, members := make([]string, len(ids)), make([]any, len(ids))
	for i, id := range ids {
		keys[i], members[i] = tkey(tenantID, "grant", id), id
	}
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, keys...)
		p.ZRem(ctx, tkey(tenantID, "user-grants", userID), members...)
		for _, id := range ids {
			p.Set(ctx, tkey(tenantID, "grant-ended", id), "1", grantTombstone)
		}
		return nil
	})
	if err != nil {
		return 0, fail(ctx, err)
	}
	return int(del.Val()), nil
}

// RevokeUserGrants revokes the user's grants for clientID, or all of them
// when clientID is "", and returns how many it revoked.
func (s *Store) RevokeUserGrants(ctx context.Context, tenantID, userID, clientID string) (int, error) {
	gs, err := s.UserGrants(ctx, tenantID, userID)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, g := range gs {
		if clientID == "" || g.ClientID == clientID {
			ids = append(ids, g.ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return s.revoke(ctx, tenantID, userID, ids)
}

// UserGrants lists the user's live grants, soonest to expire first.
func (s *Store) UserGrants(ctx context.Context, tenantID, userID string) ([]storage.Grant, error) {
	ids, err := s.rdb.ZRange(ctx, tkey(tenantID, "user-grants", userID), 0, -1).Result()
	if err != nil {
		return nil, fail(ctx, err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = tkey(tenantID, "grant", id)
	}
	return getAll[storage.Grant](ctx, s, keys)
}

// SaveRefreshToken stores rt until rt.ExpiresAt; a token already stored
// under rt.Hash is kept as it is, so a resend never resets a used one.
func (s *Store) SaveRefreshToken(ctx context.Context, tenantID string, rt storage.RefreshToken) error {
	rt.TenantID = tenantID
	raw, err := encode(rt)
	if err != nil {
		return err
	}
	_, err = s.eval(ctx, saveRefresh, []string{tkey(tenantID, "refresh", rt.Hash)}, raw, rt.GrantID, s.ttl(rt.ExpiresAt).Milliseconds())
	return err
}

// GetRefreshToken returns the token stored under hash. It returns
// storage.ErrNotFound if there is none or its grant is gone, and the token
// with storage.ErrConsumed if it was already rotated.
func (s *Store) GetRefreshToken(ctx context.Context, tenantID, hash string) (storage.RefreshToken, error) {
	key := tkey(tenantID, "refresh", hash)
	res, err := getRefresh.Run(ctx, s.rdb, []string{key}, tkey(tenantID, "grant", "")).Slice()
	if err != nil {
		return storage.RefreshToken{}, fail(ctx, err) // redis.Nil: no such token
	}
	raw, _ := res[0].(string)
	used, _ := res[1].(string)
	if live, _ := res[2].(int64); live == 0 {
		return storage.RefreshToken{}, fmt.Errorf("%w: grant of the refresh token", storage.ErrNotFound)
	}
	rt, err := decode[storage.RefreshToken](key, raw)
	if err == nil && used == "1" {
		if len(res) == 5 {
			at, _ := res[3].(string)
			if ms, perr := strconv.ParseInt(at, 10, 64); perr == nil {
				rt.RotatedAt = time.UnixMilli(ms).UTC()
			}
			if sealed, _ := res[4].(string); sealed != "" {
				rt.Successor = []byte(sealed)
			}
		}
		err = fmt.Errorf("%w: refresh token", storage.ErrConsumed)
	}
	return rt, err
}

// RotateRefreshToken atomically marks oldHash used, records r with it and
// stores next, which must belong to the same grant. A resend of the call,
// or the same rotation (next.Hash is the successor recorded) within
// r.Reuse while the successor is unused, succeeds and changes nothing;
// another successor in that case gives storage.ErrConflict and changes
// nothing. Any other use of a used oldHash revokes the grant and returns
// storage.ErrConsumed; if oldHash or its grant is gone it returns
// storage.ErrNotFound.
func (s *Store) RotateRefreshToken(ctx context.Context, tenantID, oldHash string, next storage.RefreshToken, r storage.Rotation) error {
	next.TenantID = tenantID
	next.RotatedAt, next.Successor = time.Time{}, nil
	raw, err := encode(next)
	if err != nil {
		return err
	}
	keys := []string{tkey(tenantID, "refresh", oldHash), tkey(tenantID, "refresh", next.Hash), tkey(tenantID, "grant", next.GrantID), tkey(tenantID, "grant-ended", next.GrantID)}
	args := []any{next.GrantID, raw, s.ttl(next.ExpiresAt).Milliseconds(), opID(ctx), s.now().UnixMilli(),
		max(r.Reuse.Milliseconds(), 0), next.Hash, r.Sealed, tkey(tenantID, "refresh", ""), grantTombstone.Milliseconds()}
	switch n, err := s.eval(ctx, rotate, keys, args...); {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("%w: refresh token or its grant", storage.ErrNotFound)
	case n == 3:
		return fmt.Errorf("%w: refresh token rotated by a concurrent request", storage.ErrConflict)
	case n == -1:
		return fmt.Errorf("%w: refresh token replayed, grant %s revoked", storage.ErrConsumed, next.GrantID)
	case n == -2:
		return fmt.Errorf("redisstore: refresh token %s does not belong to grant %s", oldHash, next.GrantID)
	}
	return nil
}

// RevokeAccessToken denies the access token with jti until until.
func (s *Store) RevokeAccessToken(ctx context.Context, tenantID, jti string, until time.Time) error {
	return fail(ctx, s.rdb.Set(ctx, tkey(tenantID, "revoked", jti), "1", s.ttl(until)).Err())
}

// TokenActive reports, in one round trip, whether the grant still exists
// and jti has not been revoked.
func (s *Store) TokenActive(ctx context.Context, tenantID, grantID, jti string) (bool, error) {
	var grant, revoked *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		grant = p.Exists(ctx, tkey(tenantID, "grant", grantID))
		revoked = p.Exists(ctx, tkey(tenantID, "revoked", jti))
		return nil
	})
	if err != nil {
		return false, fail(ctx, err)
	}
	return grant.Val() == 1 && revoked.Val() == 0, nil
}

// TokenUser answers TokenActive and reads the user in one round trip: one
// MGET when the user lives in the token's tenant (its keys share a hash
// slot), else a pipeline of the three reads.
func (s *Store) TokenUser(ctx context.Context, tenantID, grantID, jti, userTenantID, userID string) (storage.User, bool, error) {
	grantKey, revokedKey, userKey := tkey(tenantID, "grant", grantID), tkey(tenantID, "revoked", jti), tkey(userTenantID, "user", userID)
	var active bool
	var user any
	if userTenantID == tenantID {
		vals, err := s.mgets.mget(ctx, grantKey, revokedKey, userKey)
		if err != nil {
			return storage.User{}, false, fail(ctx, err)
		}
		active, user = vals[0] != nil && vals[1] == nil, vals[2]
	} else {
		var grant, revoked *redis.IntCmd
		var u *redis.StringCmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			grant, revoked, u = p.Exists(ctx, grantKey), p.Exists(ctx, revokedKey), p.Get(ctx, userKey)
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return storage.User{}, false, fail(ctx, err)
		}
		active = grant.Val() == 1 && revoked.Val() == 0
		if u.Err() == nil {
			user = u.Val()
		}
	}
	switch raw, ok := user.(string); {
	case !active:
		return storage.User{}, false, nil
	case !ok:
		return storage.User{}, true, fmt.Errorf("%w: user %s", storage.ErrNotFound, userID)
	default:
		u, err := s.users.decode(userKey, raw)
		return u, true, err
	}
}

// userMemo remembers users decoded from their stored JSON. TokenUser still
// reads the user from Redis on every call; it only skips decoding bytes it
// decoded before (the same JSON decodes to the same User), which is most of
// its cost on the Graph-style API's hot path.
type userMemo struct {
	mu sync.Mutex
	m  map[string]storage.User
}

// maxUserMemo bounds the memo; when full it is cleared.
const maxUserMemo = 10_000

func (m *userMemo) decode(key, raw string) (storage.User, error) {
	m.mu.Lock()
	u, ok := m.m[raw]
	m.mu.Unlock()
	if !ok {
		var err error
		if u, err = decode[storage.User](key, raw); err != nil {
			return u, err
		}
		m.mu.Lock()
		if m.m == nil || len(m.m) >= maxUserMemo {
			m.m = make(map[string]storage.User)
		}
		m.m[raw] = u
		m.mu.Unlock()
	}
	// The caller owns what it gets: no slice is shared with the memo.
	u.Identities, u.Roles = slices.Clone(u.Identities), slices.Clone(u.Roles)
	return u, nil
}

// CreateSession stores sess until sess.ExpiresAt.
func (s *Store) CreateSession(ctx context.Context, tenantID string, sess storage.Session) error {
	sess.TenantID = tenantID
	key, index := tkey(tenantID, "session", sess.Hash), tkey(tenantID, "user-sessions", sess.UserID)
	_, err := s.putIndexed(ctx, key, index, sess.Hash, sess, sess.ExpiresAt, false)
	return err
}

// GetSession returns storage.ErrNotFound if the session does not exist or
// expired.
func (s *Store) GetSession(ctx context.Context, tenantID, hash string) (storage.Session, error) {
	return get[storage.Session](ctx, s, tkey(tenantID, "session", hash))
}

// DeleteSession deletes one session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, tenantID, hash string) error {
	sess, err := s.GetSession(ctx, tenantID, hash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.deleteSessions(ctx, tenantID, sess.UserID, []string{hash})
}

// DeleteUserSessions deletes every session of the user.
func (s *Store) DeleteUserSessions(ctx context.Context, tenantID, userID string) error {
	hashes, err := s.rdb.ZRange(ctx, tkey(tenantID, "user-sessions", userID), 0, -1).Result()
	if err != nil || len(hashes) == 0 {
		return fail(ctx, err)
	}
	return s.deleteSessions(ctx, tenantID, userID, hashes)
}

// deleteSessions deletes the user's sessions hashes and their index
// entries; a session created meanwhile keeps its own.
func (s *Store) deleteSessions(ctx context.Context, tenantID, userID string, hashes []string) error {
	keys, members := make([]string, len(hashes)), make([]any, len(hashes))
	for i, h := range hashes {
		keys[i], members[i] = tkey(tenantID, "session", h), h
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, keys...)
		p.ZRem(ctx, tkey(tenantID, "user-sessions", userID), members...)
		return nil
	})
	return fail(ctx, err)
}

// Unhit takes back one hit, never below zero, keeping the window (TTL).
func (s *Store) Unhit(ctx context.Context, tenantID, key string) error {
	_, err := s.evalOp(ctx, unhit, opID(ctx), []string{tkey(tenantID, "counter", key)}).Result()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return fail(ctx, err)
}

// Hit increments the counter and returns the new count; the window starts
// at the first hit and the counter vanishes when it ends.
func (s *Store) Hit(ctx context.Context, tenantID, key string, window time.Duration) (int64, error) {
	n, err := s.evalOp(ctx, hit, opID(ctx), []string{tkey(tenantID, "counter", key)}, atLeastMS(window).Milliseconds()).Int64()
	return n, fail(ctx, err)
}

// Count returns the counter's current value (0 when none).
func (s *Store) Count(ctx context.Context, tenantID, key string) (int64, error) {
	n, err := s.rdb.Get(ctx, tkey(tenantID, "counter", key)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, fail(ctx, err)
}

// ResetCounter deletes the counter.
func (s *Store) ResetCounter(ctx context.Context, tenantID, key string) error {
	return fail(ctx, s.rdb.Del(ctx, tkey(tenantID, "counter", key)).Err())
}
