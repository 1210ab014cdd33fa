package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestGraphConcurrentUsers: requests of different users at once share
// their Redis round trips (redisstore's batched MGET), and each still gets
// its own user, never another's; a revoked token among them fails alone.
func TestGraphConcurrentUsers(t *testing.T) {
	w := startGraphWorld(t)
	type caller struct {
		id, token string
		revoked   bool
	}
	var callers []caller
	for _, local := range []string{"cust", "other", "admin"} {
		tok := w.as(w.x, local).token(t, "web", "openid", "User.Read")
		callers = append(callers, caller{id: w.x.users[local].ID, token: tok.AccessToken})
	}
	revoked := w.as(w.x, "cust").token(t, "web", "openid", "User.Read")
	wantStatus(t, w.call(t, http.MethodGet, "/v1.0/me", revoked.AccessToken, nil), http.StatusOK)
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	revoked.c.provider.Claims(&meta)
	form := url.Values{"token": {revoked.AccessToken}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequest(http.MethodPost, meta.Revocation, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(w.x.web, w.secret)
	if resp, err := w.env.client.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	wantInvalidToken(t, w.call(t, http.MethodGet, "/v1.0/me", revoked.AccessToken, nil))
	callers = append(callers, caller{id: w.x.users["cust"].ID, token: revoked.AccessToken, revoked: true})

	const rounds = 25
	errs := make(chan error, rounds*len(callers))
	var wg sync.WaitGroup
	for range rounds {
		for _, c := range callers {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, w.env.base+"/v1.0/me?$select=id", nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				resp, err := w.env.client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				var body struct{ ID string }
				json.NewDecoder(resp.Body).Decode(&body)
				switch {
				case c.revoked && resp.StatusCode != http.StatusUnauthorized:
					errs <- fmt.Errorf("revoked token: %d, id %q", resp.StatusCode, body.ID)
				case !c.revoked && (resp.StatusCode != http.StatusOK || body.ID != c.id):
					errs <- fmt.Errorf("token of %s: %d, id %q", c.id, resp.StatusCode, body.ID)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
