package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// flow returns a sign-up flow at the code step.
func (h *Harness) flow(tenantID string) storage.Flow {
	now := h.now()
	return storage.Flow{
		ID: newID("flow"), TenantID: tenantID, Kind: storage.FlowSignUp, Path: "app",
		AuthRequestID: newID("ar"), ClientID: "client", Email: "alice@contoso.example", Step: "code",
		CodeHash: "c0de", CodeIssuedAt: now, CodeExpiresAt: now.Add(10 * time.Minute), CodesSent: 1,
		Data: map[string]string{"locale": "en"}, CreatedAt: now,
	}
}

func testFlows(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	f, newFlowID := h.flow(tn), newID("flow")
	steps(t, []step{
		{"create", func() error { return s.CreateFlow(ctx, tn, f, long) }, nil},
		{"create taken ID", func() error { return s.CreateFlow(ctx, tn, f, long) }, storage.ErrExists},
		{"get", func() error { return got(s.GetFlow(ctx, tn, f.ID)).is(f) }, nil},
		{"get missing", func() error { return errOf(s.GetFlow(ctx, tn, newID("flow"))) }, storage.ErrNotFound},
		{"update", func() error {
			f.Step, f.CodeAttempts, f.FlowAttempts, f.Data["home"] = "profile", 2, 3, "tenant-2"
			return got(s.UpdateFlow(ctx, tn, f.ID, func(p *storage.Flow) error {
				p.Step, p.CodeAttempts, p.FlowAttempts, p.Data["home"] = "profile", 2, 3, "tenant-2"
				return nil
			})).is(f)
		}, nil},
		{"updated", func() error { return got(s.GetFlow(ctx, tn, f.ID)).is(f) }, nil},
		{"updater error", func() error {
			return errOf(s.UpdateFlow(ctx, tn, f.ID, func(p *storage.Flow) error { p.Step = "done"; return errUpdater }))
		}, errUpdater},
		{"updater error wrote nothing", func() error { return got(s.GetFlow(ctx, tn, f.ID)).is(f) }, nil},
		{"ID change refused or ignored", func() error {
			s.UpdateFlow(ctx, tn, f.ID, func(p *storage.Flow) error { p.ID = newFlowID; return nil })
			if err := got(s.GetFlow(ctx, tn, f.ID)).is(f); err != nil {
				return err
			}
			return errOf(s.GetFlow(ctx, tn, newFlowID))
		}, storage.ErrNotFound},
		{"update missing", func() error {
			return errOf(s.UpdateFlow(ctx, tn, newID("flow"), func(*storage.Flow) error { return nil }))
		}, storage.ErrNotFound},
		{"delete", func() error { return s.DeleteFlow(ctx, tn, f.ID) }, nil},
		{"deleted", func() error { return errOf(s.GetFlow(ctx, tn, f.ID)) }, storage.ErrNotFound},
		{"update deleted", func() error {
			return errOf(s.UpdateFlow(ctx, tn, f.ID, func(*storage.Flow) error { return nil }))
		}, storage.ErrNotFound},
		{"delete missing", func() error { return s.DeleteFlow(ctx, tn, f.ID) }, nil},
	})
}

var (
	errTooManyAttempts = errors.New("too many attempts")
	errStepTaken       = fmt.Errorf("%w: the code step was taken", storage.ErrConsumed)
)

// testConcurrentFlowUpdates checks the two properties the email-code steps
// rely on: an attempt counter capped in the updater neither loses
// increments nor passes the cap, and a step advanced in the updater is
// advanced by exactly one caller.
func testConcurrentFlowUpdates(t *testing.T, h *Harness) {
	s := h.Store
	t.Run("attempts are counted and capped", func(t *testing.T) {
		t.Parallel()
		const n, limit = 50, 5
		ctx, tn := t.Context(), h.tenant(t).ID
		f := h.flow(tn)
		must(t, s.CreateFlow(ctx, tn, f, long))
		// Count returns, not calls of the updater: a backend may call it
		// again when a compare-and-swap loses.
		var applied atomic.Int64
		errs, conflicts := hammer(n, func(int) error {
			_, err := s.UpdateFlow(ctx, tn, f.ID, func(p *storage.Flow) error {
				if p.CodeAttempts++; p.CodeAttempts > limit {
					return errTooManyAttempts
				}
				return nil
			})
			if err == nil {
				applied.Add(1)
			}
			return err
		})
		// hammer retries storage.ErrConflict; a call that still ends with
		// it applied nothing, and the counter must show that.
		gaveUp := 0
		for i, err := range errs {
			switch {
			case err == nil, errors.Is(err, errTooManyAttempts):
			case errors.Is(err, storage.ErrConflict):
				gaveUp++
			default:
				t.Errorf("update %d: %v", i, err)
			}
		}
		stored, err := s.GetFlow(ctx, tn, f.ID)
		must(t, err)
		if int64(stored.CodeAttempts) != applied.Load() {
			t.Errorf("counted %d attempts, %d updates succeeded", stored.CodeAttempts, applied.Load())
		}
		if stored.CodeAttempts > limit {
			t.Errorf("counted %d attempts, past the cap of %d", stored.CodeAttempts, limit)
		}
		if gaveUp == 0 && stored.CodeAttempts != limit {
			t.Errorf("counted %d attempts, want %d", stored.CodeAttempts, limit)
		}
		t.Logf("%d updates retried after storage.ErrConflict, %d gave up", conflicts, gaveUp)
	})
	t.Run("a step advances once", func(t *testing.T) {
		t.Parallel()
		const n = 8
		ctx, tn := t.Context(), h.tenant(t).ID
		f := h.flow(tn)
		must(t, s.CreateFlow(ctx, tn, f, long))
		errs, _ := hammer(n, func(int) error {
			return errOf(s.UpdateFlow(ctx, tn, f.ID, func(p *storage.Flow) error {
				if p.Step != "code" {
					return errStepTaken
				}
				p.Step = "profile"
				return nil
			}))
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				wantErr(t, err, storage.ErrConsumed)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d updates advanced the step, want 1", won, n)
		}
		f.Step = "profile"
		wantErr(t, got(s.GetFlow(ctx, tn, f.ID)).is(f), nil)
	})
}

func testAudit(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	const n = 7
	events := make([]storage.AuditEvent, n) // oldest first
	for i := range events {
		events[i] = storage.AuditEvent{
			Time:     h.now().Add(time.Duration(i)*time.Second + 123456789), // sub-millisecond digits survive
			Activity: "codeSent", Category: "UserManagement", Result: "success", Actor: "anonymous",
			Target: fmt.Sprintf("a***@contoso.example #%d", i), RequestID: newID("req"),
			Properties: map[string]string{"index": fmt.Sprint(i), "flow": storage.FlowSignUp, "note": "ünï <&>"},
		}
		if i%2 == 1 {
			events[i].Result, events[i].Reason, events[i].Properties = "failure", "invalidCode", nil
		}
	}
	events[0].ID = "chosen-by-the-caller"
	var ss []step
	ss = append(ss, step{"empty log", func() error { return none(s.ListAudit(ctx, tn, 10, "")) }, nil})
	for i := range events {
		ss = append(ss, step{fmt.Sprint("append ", i), func() error {
			id, err := s.AppendAudit(ctx, tn, events[i])
			if err == nil && (id == "" || id == "chosen-by-the-caller") {
				err = fmt.Errorf("the store assigned the ID %q", id)
			}
			for _, e := range events[:i] {
				if e.ID == id {
					err = fmt.Errorf("the store assigned %q twice", id)
				}
			}
			events[i].ID = id
			return err
		}, nil})
	}
	// newest returns the events from the k-th newest on, newest first, at
	// most limit of them.
	newest := func(k, limit int) []storage.AuditEvent {
		rev := slices.Clone(events)
		slices.Reverse(rev)
		return rev[k:min(k+limit, n)]
	}
	before := func(k int) string { return newest(k, 1)[0].ID } // ID of the k-th newest
	steps(t, append(ss, []step{
		{"list newest first", func() error { return got(s.ListAudit(ctx, tn, 100, "")).is(newest(0, n)) }, nil},
		{"limit", func() error { return got(s.ListAudit(ctx, tn, 3, "")).is(newest(0, 3)) }, nil},
		{"limit of one", func() error { return got(s.ListAudit(ctx, tn, 1, "")).is(newest(0, 1)) }, nil},
		{"zero limit lists nothing", func() error { return none(s.ListAudit(ctx, tn, 0, "")) }, nil},
		{"second page", func() error { return got(s.ListAudit(ctx, tn, 3, before(2))).is(newest(3, 3)) }, nil},
		{"last page", func() error { return got(s.ListAudit(ctx, tn, 3, before(5))).is(newest(6, 3)) }, nil},
		{"before the oldest", func() error { return none(s.ListAudit(ctx, tn, 3, before(n-1))) }, nil},
		{"before the newest", func() error { return got(s.ListAudit(ctx, tn, 100, before(0))).is(newest(1, n)) }, nil},
		{"append after paging", func() error {
			e := events[1]
			e.ID, e.Activity = "", "userCreated"
			id, err := s.AppendAudit(ctx, tn, e)
			e.ID = id
			return errors.Join(err, got(s.ListAudit(ctx, tn, 2, "")).is(append([]storage.AuditEvent{e}, newest(0, 1)...)))
		}, nil},
	}...))
}

func testConsents(t *testing.T, h *Harness) {
	ctx, s := t.Context(), h.Store
	tn := h.tenant(t).ID
	alice, bob := newID("alice"), newID("bob")
	appA, appB := newID("a-client"), newID("b-client") // appA sorts first
	now := h.now()
	first := storage.Consent{
		UserID: alice, ClientID: appB, Scopes: []string{"openid", "profile", "openid"},
		ConsentType: "Principal", CreatedAt: now,
	}
	var want storage.Consent // alice's consent to appB, as stored
	other := storage.Consent{
		ID: newID("consent"), TenantID: tn, UserID: alice, ClientID: appA, Scopes: []string{"openid"},
		ConsentType: "Principal", CreatedAt: now,
	}
	bobs := storage.Consent{
		ID: newID("consent"), TenantID: tn, UserID: bob, ClientID: appB, Scopes: []string{"email"},
		ConsentType: "Principal", CreatedAt: now,
	}
	put := func(c storage.Consent) func() error {
		return func() error { return got(s.PutConsent(ctx, tn, c)).is(c) }
	}
	steps(t, []step{
		{"get missing", func() error { return errOf(s.GetConsent(ctx, tn, alice, appB)) }, storage.ErrNotFound},
		{"list none", func() error { return none(s.ListConsents(ctx, tn, alice)) }, nil},
		{"put assigns an ID", func() error {
			c, err := s.PutConsent(ctx, tn, first)
			if err == nil && c.ID == "" {
				return errors.New("no ID assigned")
			}
			want = first
			want.ID, want.TenantID, want.Scopes = c.ID, tn, []string{"openid", "profile"}
			return errors.Join(err, got(c, nil).is(want))
		}, nil},
		{"get", func() error { return got(s.GetConsent(ctx, tn, alice, appB)).is(want) }, nil},
		{"merge keeps the first ID and time", func() error {
			c := first
			c.ID, c.CreatedAt, c.Scopes = newID("consent"), now.Add(time.Hour), []string{"email", "profile", "offline_access"}
			want.Scopes = []string{"openid", "profile", "email", "offline_access"}
			return got(s.PutConsent(ctx, tn, c)).is(want)
		}, nil},
		{"merged", func() error { return got(s.GetConsent(ctx, tn, alice, appB)).is(want) }, nil},
		{"put granted scopes again", func() error {
			c := first
			c.Scopes = []string{"email", "openid"}
			return got(s.PutConsent(ctx, tn, c)).is(want)
		}, nil},
		{"put with a given ID", put(other), nil},
		{"put other user's", put(bobs), nil},
		{"list sorted by client", func() error { return got(s.ListConsents(ctx, tn, alice)).is([]storage.Consent{other, want}) }, nil},
		{"list other user's", func() error { return got(s.ListConsents(ctx, tn, bob)).is([]storage.Consent{bobs}) }, nil},
		{"delete other user's consent", func() error { return errOf(s.DeleteConsent(ctx, tn, alice, bobs.ID)) }, storage.ErrNotFound},
		{"other user's consent kept", func() error { return got(s.GetConsent(ctx, tn, bob, appB)).is(bobs) }, nil},
		{"delete missing", func() error { return errOf(s.DeleteConsent(ctx, tn, alice, newID("consent"))) }, storage.ErrNotFound},
		{"delete", func() error { return got(s.DeleteConsent(ctx, tn, alice, want.ID)).is(want) }, nil},
		{"deleted", func() error { return errOf(s.GetConsent(ctx, tn, alice, appB)) }, storage.ErrNotFound},
		{"delete again", func() error { return errOf(s.DeleteConsent(ctx, tn, alice, want.ID)) }, storage.ErrNotFound},
		{"list after delete", func() error { return got(s.ListConsents(ctx, tn, alice)).is([]storage.Consent{other}) }, nil},
		{"other user's unaffected", func() error { return got(s.ListConsents(ctx, tn, bob)).is([]storage.Consent{bobs}) }, nil},
		{"put after delete starts afresh", func() error {
			c := first
			c.Scopes = []string{"email"}
			stored, err := s.PutConsent(ctx, tn, c)
			if err == nil && (stored.ID == "" || stored.ID == want.ID) {
				return fmt.Errorf("the new consent has ID %q, the deleted one had %q", stored.ID, want.ID)
			}
			c.ID, c.TenantID = stored.ID, tn
			return errors.Join(err, got(stored, nil).is(c))
		}, nil},
	})
}

// testConcurrentConsents races 16 puts of one user's consent to one app,
// each with its own ID, time and scope: exactly one creates it and every
// scope is merged in.
func testConcurrentConsents(t *testing.T, h *Harness) {
	const n = 16
	ctx, s := t.Context(), h.Store
	tn, userID, client := h.tenant(t).ID, newID("user"), newID("client")
	puts := make([]storage.Consent, n)
	for i := range puts {
		puts[i] = storage.Consent{
			ID: fmt.Sprint("consent-", i), UserID: userID, ClientID: client, Scopes: []string{"openid", fmt.Sprint("scope-", i)},
			ConsentType: "Principal", CreatedAt: h.now().Add(time.Duration(i) * time.Second),
		}
	}
	ids := make([]string, n)
	errs, conflicts := hammer(n, func(i int) error {
		c, err := s.PutConsent(ctx, tn, puts[i])
		ids[i] = c.ID
		return err
	})
	wantErr(t, errors.Join(errs...), nil)
	c, err := s.GetConsent(ctx, tn, userID, client)
	must(t, err)
	k := slices.IndexFunc(puts, func(p storage.Consent) bool { return p.ID == c.ID })
	if k < 0 {
		t.Fatalf("stored ID %q is none of the puts'", c.ID)
	}
	if !c.CreatedAt.Equal(puts[k].CreatedAt) {
		t.Errorf("stored the ID of put %d with another put's time %v", k, c.CreatedAt)
	}
	for i, id := range ids {
		if id != c.ID {
			t.Errorf("put %d returned ID %q, stored %q", i, id, c.ID)
		}
	}
	for i := range puts {
		if !slices.Contains(c.Scopes, fmt.Sprint("scope-", i)) {
			t.Errorf("lost the scope of put %d", i)
		}
	}
	if len(c.Scopes) != n+1 || c.Scopes[0] != "openid" || c.Scopes[1] != puts[k].Scopes[1] {
		t.Errorf("stored scopes %v, want put %d's then the %d others", c.Scopes, k, n-1)
	}
	wantErr(t, got(s.ListConsents(ctx, tn, userID)).is([]storage.Consent{c}), nil)
	t.Logf("%d puts retried after storage.ErrConflict", conflicts)
}
