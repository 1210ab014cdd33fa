package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowserDecisionTable walks rows 4 and 5 of DESIGN.md section 2 in
// Chromium (testdata/browser/decision.mjs): a person whose address has an
// account in an organisation that does not let people join (J=false)
// reaches the sign-in form from a sign-up, by the page's link and by the
// mail's, and the original authorization request completes as that same
// person; a new address there is refused right after its code. The codes
// the app receives are redeemed here.
func TestBrowserDecisionTable(t *testing.T) {
	needBrowser(t)
	w := startSignUpWorld(t)
	mailbox := httptest.NewServer(w.app.mailbox.Handler())
	defer mailbox.Close()
	shots := screenshotDir(t, "decision")

	type request struct{ state, verifier, url string }
	newRequest := func() request {
		r := request{state: "st-" + suffix(), verifier: oauth2.GenerateVerifier()}
		r.url = w.mt.conf.AuthCodeURL(r.state, oauth2.S256ChallengeOption(r.verifier), oidc.Nonce(suffix()),
			oauth2.SetAuthURLParam("prompt", "create"))
		return r
	}
	link, mail, fresh := newRequest(), newRequest(), newRequest()
	newcomer := "newcomer." + suffix() + "@" + w.dNJ

	type landed struct{ Code, State string }
	var got struct {
		Link, Mail landed
		New        struct {
			Heading, Text string
			Fields        int
		}
	}
	runChromiumScript(t, browserDir, "decision.mjs", 100*time.Second, shots, []string{
		"FOYER_AUTH_URL_LINK=" + link.url,
		"FOYER_AUTH_URL_MAIL=" + mail.url,
		"FOYER_AUTH_URL_NEW=" + fresh.url,
		"FOYER_MAILBOX_URL=" + mailbox.URL,
		"FOYER_EXISTING_EMAIL=" + w.carol,
		"FOYER_EXISTING_PASSWORD=" + w.password,
		"FOYER_NEW_EMAIL=" + newcomer,
		"FOYER_APP_ORIGIN=https://app.example",
	}, &got)

	// Row 4: both ways end signed in as the existing person, each
	// completing its own original request.
	uid, err := w.app.store.UserIDByMail(t.Context(), w.wfNJ, w.carol)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := w.app.store.ListUsers(t.Context(), w.wfNJ)
	for name, x := range map[string]struct {
		got landed
		req request
	}{"the page's link": {got.Link, link}, "the mail's link": {got.Mail, mail}} {
		if x.got.State != x.req.state || x.got.Code == "" {
			t.Fatalf("%s: the app got state %q and code %q, want the original request's state %q", name, x.got.State, x.got.Code, x.req.state)
		}
		_, iss, claims := exchangeClaims(t, w.mt, x.got.Code, x.req.verifier)
		if iss != w.base+"/common/v2.0" || claims["oid"] != uid || claims["tid"] != w.wfNJ {
			t.Fatalf("%s: iss %s claims %v, want the existing %s of %s", name, iss, claims, uid, w.wfNJ)
		}
	}
	w.noNewIdentity(t, w.wfNJ, uid, len(users))

	// Row 5: refused right after the code, asking for nothing more.
	if got.New.Fields != 0 || !strings.Contains(got.New.Text, "emailVerifiedJoinDisabled") ||
		strings.Contains(got.New.Text, "is confirmed") || strings.Contains(got.New.Heading, "Finish") {
		t.Fatalf("page after the code of a new address, J=false: %+v", got.New)
	}
	if _, err := w.app.store.UserIDByMail(t.Context(), w.wfNJ, newcomer); err == nil {
		t.Fatal("row 5 created a user")
	}
	for _, f := range []string{"row4-link-2-sign-in.png", "row4-mail-2-app.png", "row5-refused.png"} {
		if fi, err := os.Stat(filepath.Join(shots, f)); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
}
