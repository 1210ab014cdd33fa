package main

// The decision table of DESIGN.md section 2 as people walk it (issue 8
// section 4): row 4 (domain join, J=false, the address has an account:
// "sign in, no new identity") through the "you already have an account"
// mail and through the sign-up page's link, both completing the original
// authorization request; row 5 (J=false, a new address) refused right
// after the code proves the address.

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/storage"
)

var (
	reHaveAccount  = regexp.MustCompile(`<a href="([^"]+)">I already have an account</a>`)
	reMailSignIn   = regexp.MustCompile(`(?m)^(https://\S+/login\?\S+)\s*$`)
	reMailForgot   = regexp.MustCompile(`(?m)^(https://\S+/reset\?\S+)\s*$`)
	signInHeading  = "<h1>Sign in</h1>"
	confirmedTitle = "is confirmed"
)

// walkStart starts a sign-up (prompt=create) of c in b and returns the
// "Create your account" page, the request's state and PKCE verifier.
func walkStart(t *testing.T, b *browser, c *client) (page, string, string) {
	t.Helper()
	state, verifier := "st-"+suffix(), oauth2.GenerateVerifier()
	p := b.get(c.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(suffix()),
		oauth2.SetAuthURLParam("prompt", "create")))
	if p.status != http.StatusOK || !strings.Contains(p.body, "Create your account") {
		t.Fatalf("prompt=create: %d at %s:\n%s", p.status, p.url, p.body)
	}
	return p, state, verifier
}

// wantSignedIn checks that p is the redirect of the request with state,
// and that its code, exchanged with the request's verifier, is for the
// existing user uid of home.
func wantSignedIn(t *testing.T, c *client, p page, state, verifier, home, uid string) {
	t.Helper()
	q := redirected(t, p)
	if q.Get("state") != state {
		t.Fatalf("redirect state %q, want the original request's %q", q.Get("state"), state)
	}
	_, _, claims := exchangeClaims(t, c, q.Get("code"), verifier)
	if claims["oid"] != uid || claims["sub"] != uid || claims["tid"] != home {
		t.Fatalf("signed in as %v/%v in %v, want the existing %s in %s", claims["oid"], claims["sub"], claims["tid"], uid, home)
	}
}

// noNewIdentity checks that the tenant still has n users and that the
// user's identities did not change.
func (w *suWorld) noNewIdentity(t *testing.T, home, uid string, n int) {
	t.Helper()
	users, err := w.app.store.ListUsers(t.Context(), home)
	if err != nil {
		t.Fatal(err)
	}
	u, err := w.app.store.GetUser(t.Context(), home, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != n || len(u.Identities) != 1 || u.CreationType != "" {
		t.Fatalf("%d users (want %d), user %+v: a new identity was made", len(users), n, u)
	}
}

func TestDecisionRow4SignInNoNewIdentity(t *testing.T) {
	w := startSignUpWorld(t)
	ctx := t.Context()
	// Row 4: domain join at the common issuer, the domain verified in a
	// tenant with J=false, the address has an account.
	uid, err := w.app.store.UserIDByMail(ctx, w.wfNJ, w.carol)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := w.app.store.ListUsers(ctx, w.wfNJ)
	n := len(users)

	t.Run("the sign-up page's link", func(t *testing.T) {
		b := w.browserFor(t)
		w.mt.t = t
		defer func() { w.mt.t = w.t }()
		start, state, verifier := walkStart(t, b, w.mt)
		m := reHaveAccount.FindStringSubmatch(start.body)
		if m == nil {
			t.Fatalf("no \"I already have an account\" link:\n%s", start.body)
		}
		p := b.get(htmlUnescape(m[1]))
		if p.status != http.StatusOK || !strings.Contains(p.body, signInHeading) || !strings.Contains(p.body, `name="password"`) {
			t.Fatalf("the link leads to %d at %s, want the sign-in form:\n%s", p.status, p.url, p.body)
		}
		wantSignedIn(t, w.mt, b.consent(b.signIn(p, w.carol, w.password)), state, verifier, w.wfNJ, uid)
		w.noNewIdentity(t, w.wfNJ, uid, n)
	})

	t.Run("the mail's sign-in link", func(t *testing.T) {
		b := w.browserFor(t)
		w.mt.t = t
		defer func() { w.mt.t = w.t }()
		start, state, verifier := walkStart(t, b, w.mt)
		before := len(w.mailsTo(w.carol))
		if p := submitEmail(b, start, w.carol); p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
			t.Fatalf("after the address: %d %s", p.status, p.body)
		}
		ms := w.mailsTo(w.carol)
		if len(ms) != before+1 || !strings.HasPrefix(ms[0].Subject, "You already have an account") {
			t.Fatalf("mail to the owner: %+v", ms)
		}
		m := reMailSignIn.FindStringSubmatch(ms[0].Text)
		if m == nil || !strings.Contains(ms[0].HTML, htmlEscapeAmp(m[1])) {
			t.Fatalf("no sign-in link in the mail:\n%s", ms[0].Text)
		}
		p := b.get(m[1])
		if p.status != http.StatusOK || !strings.Contains(p.body, signInHeading) {
			t.Fatalf("the mail's link leads to %d at %s, want the sign-in form:\n%s", p.status, p.url, p.body)
		}
		wantSignedIn(t, w.mt, b.consent(b.signIn(p, w.carol, w.password)), state, verifier, w.wfNJ, uid)
		w.noNewIdentity(t, w.wfNJ, uid, n)
	})

	t.Run("the mail's reset link", func(t *testing.T) {
		// Forgot the password: the reset ends on the sign-in form of the
		// same request, which then completes.
		b := w.browserFor(t)
		w.mt.t = t
		defer func() { w.mt.t = w.t }()
		start, state, verifier := walkStart(t, b, w.mt)
		submitEmail(b, start, w.carol)
		m := reMailForgot.FindStringSubmatch(w.mailsTo(w.carol)[0].Text)
		if m == nil {
			t.Fatalf("no reset link in the mail")
		}
		p := submitEmail(b, b.get(m[1]), w.carol)
		p = b.submit(p, map[string]string{"code": w.codeTo(w.carol)})
		pw := "a brand new passphrase " + suffix()
		p = b.submit(p, map[string]string{"password": pw})
		if p.status != http.StatusOK || !strings.Contains(p.body, signInHeading) {
			t.Fatalf("after the reset: %d at %s, want the sign-in form:\n%s", p.status, p.url, p.body)
		}
		wantSignedIn(t, w.mt, b.consent(b.signIn(p, w.carol, pw)), state, verifier, w.wfNJ, uid)
		w.noNewIdentity(t, w.wfNJ, uid, n)
	})

	t.Run("the app path too", func(t *testing.T) {
		// Row 3's owner (an app's sign-up flow, the address has an
		// account) follows the same link to the same end.
		c := w.rp(w.a, true, oidc.ScopeOpenID, "profile", "email")
		c.t = t
		b := w.browserFor(t)
		start, state, verifier := walkStart(t, b, c)
		m := reHaveAccount.FindStringSubmatch(start.body)
		if m == nil {
			t.Fatal("no \"I already have an account\" link")
		}
		alice, err := w.app.store.UserIDByMail(ctx, w.a.id, w.a.user)
		if err != nil {
			t.Fatal(err)
		}
		wantSignedIn(t, c, b.consent(b.signIn(b.get(htmlUnescape(m[1])), w.a.user, w.a.password)), state, verifier, w.a.id, alice)
	})

	// Without the link, prompt=create still opens sign-up.
	b := w.browserFor(t)
	walkStart(t, b, w.mt)
}

func TestDecisionRow5RefusedRightAfterCode(t *testing.T) {
	w := startSignUpWorld(t)
	ctx := t.Context()
	b := w.browserFor(t)
	start, _, _ := walkStart(t, b, w.mt)
	addr := "newcomer@" + w.dNJ
	codePage := submitEmail(b, start, addr)
	if codePage.status != http.StatusOK || !strings.Contains(codePage.body, "Check your email") {
		t.Fatalf("after the address: %d %s", codePage.status, codePage.body)
	}
	flow := flowID(t, codePage)

	p := b.submit(codePage, map[string]string{"code": w.codeTo(addr)})
	wantRefusal(t, p, http.StatusForbidden, "emailVerifiedJoinDisabled")
	for _, s := range []string{confirmedTitle, `name="password"`, `name="displayName"`, "Finish creating your account"} {
		if strings.Contains(p.body, s) {
			t.Fatalf("the refusal page holds %q:\n%s", s, p.body)
		}
	}
	// The flow ended: its profile page is gone, and nothing was created.
	q := b.get(w.base + "/common/v2.0/signup/profile?flow=" + flow)
	if q.status != http.StatusNotFound || strings.Contains(q.body, confirmedTitle) {
		t.Fatalf("profile page after the refusal: %d\n%s", q.status, q.body)
	}
	if _, err := w.app.store.UserIDByMail(ctx, w.wfNJ, addr); err == nil {
		t.Fatal("a user was created")
	}
	for _, tid := range []string{w.wfNJ, storage.CommonTenantID} {
		found := false
		for _, ev := range w.audit(t, tid) {
			if ev.Activity == "signUpRefused" && ev.Reason == "emailVerifiedJoinDisabled" && ev.Target == "n***@"+w.dNJ {
				found = true
			}
		}
		if !found {
			t.Errorf("tenant %s: no signUpRefused emailVerifiedJoinDisabled event", tid)
		}
	}

	// A wrong code is still just a wrong code (the refusal reveals
	// nothing before the address is proven).
	b = w.browserFor(t)
	start, _, _ = walkStart(t, b, w.mt)
	other := "another@" + w.dNJ
	p = b.submit(submitEmail(b, start, other), map[string]string{"code": "00000000"})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "not right") {
		t.Fatalf("wrong code: %d %s", p.status, p.body)
	}
	// The right code after a wrong one: refused at once.
	wantRefusal(t, b.submit(p, map[string]string{"code": w.codeTo(other)}), http.StatusForbidden, "emailVerifiedJoinDisabled")
}

func htmlEscapeAmp(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }
