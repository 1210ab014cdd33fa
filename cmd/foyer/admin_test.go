package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func TestPolicyCommandTakesEffectAtOnce(t *testing.T) {
	mr := miniredis.RunT(t)
	url := "redis://" + mr.Addr()
	env := startEnv(t, func(c *Config) { c.RedisURL = url })
	getenv := func(k string) string { return map[string]string{"FOYER_REDIS_URL": url}[k] }
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, getenv, &out, &errOut)
		if err != nil {
			return errOut.String(), err
		}
		return out.String(), nil
	}
	signUp := func() page {
		c := env.rp(env.a, true, oidc.ScopeOpenID)
		b := env.browser()
		p := b.get(c.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "create")))
		return b.submit(p, map[string]string{"email": "cli-" + suffix() + "@example.org"})
	}
	if p := signUp(); p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
		t.Fatalf("sign-up with S on: %d", p.status)
	}
	out, err := cli("policy", "update", "--tenant", env.a.name, "--allowed-to-sign-up-email-based-subscriptions=false")
	if err != nil {
		t.Fatalf("policy update: %v %s", err, out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["allowedToSignUpEmailBasedSubscriptions"] != false || got["id"] != "authorizationPolicy" {
		t.Fatalf("policy update printed %s (%v)", out, err)
	}
	if p := signUp(); p.status != http.StatusForbidden || !strings.Contains(p.body, "signUpDisabled") {
		t.Fatalf("sign-up right after S was turned off: %d\n%s", p.status, p.body)
	}
	out, err = cli("policy", "get", "--tenant", env.a.id)
	if err != nil || !strings.Contains(out, `"allowedToSignUpEmailBasedSubscriptions": false`) {
		t.Fatalf("policy get: %v %s", err, out)
	}
	out, err = cli("audit", "list", "--tenant", env.a.name, "--top", "5")
	if err != nil || !strings.Contains(out, `"policyUpdated"`) || !strings.Contains(out, `"initiatedBy":"cli"`) {
		t.Fatalf("audit list: %v %s", err, out)
	}
	if _, err := cli("policy", "update", "--tenant", env.a.name, "--allowed-to-read-other-users=true"); err == nil {
		t.Fatal("allowedToReadOtherUsers=true accepted in an external tenant")
	}
	if _, err := cli("policy", "update", "--tenant", env.a.name, "--allow-invites-from=anyone"); err == nil {
		t.Fatal("unknown allowInvitesFrom accepted")
	}
	if _, err := cli("policy", "get", "--tenant", "no-such-tenant"); err == nil {
		t.Fatal("unknown tenant accepted")
	}
}
