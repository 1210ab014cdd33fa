package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/coreos/go-oidc/v3/oidc"
)

const testKEKText = "dGhpcyBpcyBhIHRlc3Qga2V5LWVuY3J5cHRpb24ga2U"

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.SplitN(jwt, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ Kid string }
	json.Unmarshal(h, &hdr)
	return hdr.Kid
}

func TestKeysRotateCommand(t *testing.T) {
	mr := miniredis.RunT(t)
	env := func(k string) string {
		return map[string]string{"FOYER_REDIS_URL": "redis://" + mr.Addr(), "FOYER_KEK": testKEKText}[k]
	}
	shared := func(c *Config) { c.RedisURL = "redis://" + mr.Addr() }
	one := startEnv(t, shared)
	c := one.rp(one.a, true, oidc.ScopeOpenID)
	code, verifier, _ := c.login(one.browser(), one.a)
	tok1, err := c.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := tok1.Extra("id_token").(string)
	jwks := func(e *testEnv) string {
		resp, err := e.client.Get(e.base + "/" + one.a.id + "/v2.0/keys")
		if err != nil {
			t.Fatal(err)
		}
		return readAll(resp)
	}
	before := jwks(one)

	var out, errOut bytes.Buffer
	rotate := func(args ...string) error {
		return run(context.Background(), append([]string{"keys", "rotate"}, args...), env, &out, &errOut)
	}
	if err := rotate("--tenant", one.a.name); err != nil {
		t.Fatalf("rotate (publish): %v\n%s", err, errOut.String())
	}
	// Phase one publishes the next keys; a fresh instance still signs with
	// the current ones.
	two := startEnv(t, shared, func(cfg *Config) { cfg.PublicURL = one.base })
	if after := jwks(two); strings.Count(after, `"kid"`) != strings.Count(before, `"kid"`)+2 {
		t.Fatalf("after publishing, JWKS has %d keys, before %d", strings.Count(after, `"kid"`), strings.Count(before, `"kid"`))
	}
	if err := rotate("--tenant", one.a.name); err == nil {
		t.Fatal("promoting before the publish delay must be refused")
	}
	if err := rotate("--tenant", one.a.name, "--now"); err != nil {
		t.Fatalf("rotate --now: %v", err)
	}
	three := startEnv(t, shared, func(cfg *Config) { cfg.PublicURL = one.base })
	c3 := *c
	c3.env = three
	c3.conf.Endpoint.AuthURL = strings.Replace(c.conf.Endpoint.AuthURL, one.base, three.base, 1)
	c3.conf.Endpoint.TokenURL = strings.Replace(c.conf.Endpoint.TokenURL, one.base, three.base, 1)
	code, verifier, _ = c3.login(three.browser(), one.a)
	tok3, err := c3.exchange(code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	id3, _ := tok3.Extra("id_token").(string)
	if kidOf(t, id3) == kidOf(t, id1) {
		t.Fatal("the promoted key does not sign")
	}
	// The previous key stays published, so tokens it signed still verify.
	ks := oidc.NewRemoteKeySet(three.ctx(), three.base+"/"+one.a.id+"/v2.0/keys")
	for _, tok := range []string{id1, id3} {
		if _, err := ks.VerifySignature(three.ctx(), tok); err != nil {
			t.Fatalf("token with kid %s no longer verifies: %v", kidOf(t, tok), err)
		}
	}
	if err := rotate("--tenant", "no-such-tenant"); err == nil {
		t.Fatal("unknown tenant accepted")
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	cfg := testConfig(t)
	cfg.Addr = "127.0.0.1:0"
	cfg.Dev = true
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	go func() { done <- serve(ctx, cfg, log, io.Discard, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	for _, p := range []string{"/healthz", "/readyz", "/contoso/v2.0/.well-known/openid-configuration"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}
