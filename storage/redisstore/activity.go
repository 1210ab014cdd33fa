package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyer-id/foyer/storage"
)

// CreateFlow stores f for ttl; it returns storage.ErrExists if the ID is
// taken.
func (s *Store) CreateFlow(ctx context.Context, tenantID string, f storage.Flow, ttl time.Duration) error {
	f.TenantID = tenantID
	raw, err := encode(f)
	if err != nil {
		return err
	}
	ok, err := s.createNX(ctx, tkey(tenantID, "flow", f.ID), raw, atLeastMS(ttl), "", "")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: flow %s", storage.ErrExists, f.ID)
	}
	return nil
}

// GetFlow returns storage.ErrNotFound if the flow does not exist or
// expired.
func (s *Store) GetFlow(ctx context.Context, tenantID, id string) (storage.Flow, error) {
	return get[storage.Flow](ctx, s, tkey(tenantID, "flow", id))
}

// UpdateFlow applies fn to the flow with compare-and-swap, keeping its
// remaining TTL. An fn that changes ID or TenantID fails the update.
func (s *Store) UpdateFlow(ctx context.Context, tenantID, id string, fn func(*storage.Flow) error) (storage.Flow, error) {
	return cas[storage.Flow]{key: tkey(tenantID, "flow", id)}.apply(ctx, s, func(f *storage.Flow) error {
		tid := f.TenantID
		if err := fn(f); err != nil {
			return err
		}
		return unchanged(f.ID == id && f.TenantID == tid, "flow ID or tenant ID")
	})
}

// DeleteFlow deletes the flow; a missing one is not an error.
func (s *Store) DeleteFlow(ctx context.Context, tenantID, id string) error {
	return fail(ctx, s.rdb.Del(ctx, tkey(tenantID, "flow", id)).Err())
}

// auditField is the stream entry field that holds an audit event's JSON.
const auditField = "e"

// AppendAudit adds e to the tenant's audit log, trimming the log to about
// Config.AuditMaxLen events, and returns the stream entry ID it was stored
// under, which is the event's ID (e.ID is ignored).
func (s *Store) AppendAudit(ctx context.Context, tenantID string, e storage.AuditEvent) (string, error) {
	e.ID = "" // the entry ID is the event's: not stored in the JSON
	raw, err := encode(e)
	if err != nil {
		return "", err
	}
	id, err := s.evalOp(ctx, appendAudit, opID(ctx), []string{tkey(tenantID, "audit")}, s.auditMaxLen, auditField, raw).Text()
	return id, fail(ctx, err)
}

// ListAudit returns at most limit events of the tenant, newest first, that
// are older than the event ID before ("" for the newest). A limit below 1
// lists nothing; a before that is not a stream entry ID is an error (not
// storage.ErrUnavailable).
func (s *Store) ListAudit(ctx context.Context, tenantID string, limit int, before string) ([]storage.AuditEvent, error) {
	end := "+"
	if before != "" {
		ms, seq, ok := parseStreamID(before)
		if !ok {
			return nil, fmt.Errorf("redisstore: invalid audit event ID %q", before)
		}
		if ms == 0 && seq == 0 {
			return nil, nil // nothing is older; Redis refuses the interval
		}
		end = fmt.Sprintf("(%d-%d", ms, seq)
	}
	if limit < 1 {
		return nil, nil // COUNT 0 would mean "all" to some servers
	}
	key := tkey(tenantID, "audit")
	msgs, err := s.rdb.XRevRangeN(ctx, key, end, "-", int64(limit)).Result()
	if err != nil {
		return nil, fail(ctx, err)
	}
	var events []storage.AuditEvent
	for _, m := range msgs {
		raw, _ := m.Values[auditField].(string)
		e, err := decode[storage.AuditEvent](key+" "+m.ID, raw)
		if err != nil {
			return nil, err
		}
		e.ID = m.ID
		events = append(events, e)
	}
	return events, nil
}

// parseStreamID parses a full stream entry ID, <ms>-<seq>.
func parseStreamID(id string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// consentKey returns the key of the user's consent to the app.
func consentKey(tenantID, userID, clientID string) string {
	return tkey(tenantID, "consent", userID, clientID)
}

// userConsents returns the key of the set of client IDs the user consented
// to.
func userConsents(tenantID, userID string) string {
	return tkey(tenantID, "user-consents", userID)
}

// PutConsent stores c for (c.UserID, c.ClientID), adding its scopes to any
// already granted (a union in the order of first appearance), and returns
// the stored consent. The first put fixes every field but the scopes: its
// ID (a new one when c.ID is empty), CreatedAt and ConsentType are kept.
//
// It creates the consent with SET NX and merges into an existing one with
// compare-and-swap, starting over if the consent is deleted in between; it
// returns storage.ErrConflict if that does not settle within the retry
// bound.
func (s *Store) PutConsent(ctx context.Context, tenantID string, c storage.Consent) (storage.Consent, error) {
	c.TenantID = tenantID
	c.Scopes = mergeScopes(nil, c.Scopes)
	if c.ID == "" {
		c.ID = storage.NewID()
	}
	raw, err := encode(c)
	if err != nil {
		return storage.Consent{}, err
	}
	key, index := consentKey(tenantID, c.UserID, c.ClientID), userConsents(tenantID, c.UserID)
	merge := cas[storage.Consent]{key: key}
	for range s.maxRetries {
		var created *redis.BoolCmd
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			created = p.SetNX(ctx, key, raw, 0)
			// A no-op when the consent exists: its client ID is indexed.
			p.SAdd(ctx, index, c.ClientID)
			return nil
		})
		if err != nil {
			return storage.Consent{}, fail(ctx, err)
		}
		if created.Val() {
			return c, nil
		}
		stored, err := merge.apply(ctx, s, func(p *storage.Consent) error {
			p.Scopes = mergeScopes(p.Scopes, c.Scopes)
			return nil
		})
		if !errors.Is(err, storage.ErrNotFound) {
			return stored, err
		}
		// Deleted since the SET NX: create it afresh.
	}
	return storage.Consent{}, fmt.Errorf("%w: consent after %d attempts", storage.ErrConflict, s.maxRetries)
}

// mergeScopes returns the scopes of have and then add, each once, in the
// order of first appearance.
func mergeScopes(have, add []string) []string {
	var out []string
	for _, sc := range slices.Concat(have, add) {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// GetConsent returns storage.ErrNotFound if the user granted the app
// nothing.
func (s *Store) GetConsent(ctx context.Context, tenantID, userID, clientID string) (storage.Consent, error) {
	return get[storage.Consent](ctx, s, consentKey(tenantID, userID, clientID))
}

// ListConsents lists the user's consents, sorted by client ID.
func (s *Store) ListConsents(ctx context.Context, tenantID, userID string) ([]storage.Consent, error) {
	clients, err := s.rdb.SMembers(ctx, userConsents(tenantID, userID)).Result()
	if err != nil {
		return nil, fail(ctx, err)
	}
	slices.Sort(clients)
	keys := make([]string, len(clients))
	for i, c := range clients {
		keys[i] = consentKey(tenantID, userID, c)
	}
	// getAll skips index entries whose consent is gone.
	return getAll[storage.Consent](ctx, s, keys)
}

// DeleteConsent deletes the user's consent with that ID and returns it as
// it was when deleted; it returns storage.ErrNotFound if the user has none
// with that ID.
func (s *Store) DeleteConsent(ctx context.Context, tenantID, userID, consentID string) (storage.Consent, error) {
	cs, err := s.ListConsents(ctx, tenantID, userID)
	if err != nil {
		return storage.Consent{}, err
	}
	op := opID(ctx)
	i := slices.IndexFunc(cs, func(c storage.Consent) bool { return c.ID == consentID })
	if i < 0 {
		// Gone: perhaps deleted by this very operation, whose answer is
		// recorded.
		index := userConsents(tenantID, userID)
		if raw, err := s.rdb.Get(ctx, opKey(index, op)).Result(); err == nil {
			return decode[storage.Consent](index, raw)
		}
		return storage.Consent{}, fmt.Errorf("%w: consent %s", storage.ErrNotFound, consentID)
	}
	key := consentKey(tenantID, userID, cs[i].ClientID)
	keys := []string{key, userConsents(tenantID, userID)}
	// The script deletes the consent only if it still has the ID, and
	// answers nil, which fail turns into storage.ErrNotFound, if it does
	// not: a parallel delete won, or the consent was deleted and put anew.
	raw, err := s.evalOp(ctx, deleteConsent, op, keys, consentID, cs[i].ClientID).Text()
	if err != nil {
		return storage.Consent{}, fail(ctx, err)
	}
	return decode[storage.Consent](key, raw)
}
