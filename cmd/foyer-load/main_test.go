package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAgainstFoyer builds foyer, serves a bench tenant on the embedded Redis
// and runs every workload for a moment, so that the tool cannot drift from
// Foyer's pages and endpoints unnoticed.
func TestAgainstFoyer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs foyer")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "foyer")
	build := exec.Command("go", "build", "-o", bin, "github.com/foyer-id/foyer/cmd/foyer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secret, password := rand.Text()+rand.Text(), rand.Text()
	doc := `tenants:
  - name: bench
    kind: external
    apps:
      - clientId: bench-web
        redirectUris: [http://localhost/bench/callback]
        scopes: [openid, profile, email, offline_access, User.Read]
        preConsented: true
        clientSecretEnv: BENCH_SECRET
    users:
      - mail: alice@bench.example
        displayName: Alice
        passwordEnv: BENCH_PASSWORD
`
	cfg := filepath.Join(dir, "foyer.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	base := "http://" + addr
	kek := make([]byte, 32)
	rand.Read(kek)
	srv := exec.Command(bin, "serve", "--addr", addr, "--public-url", base, "--config", cfg, "--log-level", "warn")
	srv.Env = append(os.Environ(), "FOYER_KEK="+base64.StdEncoding.EncodeToString(kek),
		"BENCH_SECRET="+secret, "BENCH_PASSWORD="+password)
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("foyer's log:\n%s", logs.String())
		}
	})
	waitHealthy(t, base)

	result := regexp.MustCompile(`(?m)^RESULT workload=(\w+) rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+) errors=(\d+) ops=(\d+) `)
	t.Run("token", func(t *testing.T) {
		var out, errOut bytes.Buffer
		args := []string{"-url", base + "/bench/v2.0", "-user", "alice@bench.example", "-workload", "token"}
		env := map[string]string{"FOYER_LOAD_SECRET": secret, "FOYER_LOAD_PASSWORD": password}
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); err != nil {
			t.Fatalf("run: %v\n%s", err, errOut.String())
		}
		tok, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "ACCESS_TOKEN ")
		if !ok || strings.Count(tok, ".") != 2 {
			t.Fatalf("output %q: want one ACCESS_TOKEN line", out.String())
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/v1.0/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1.0/me with the printed token: %s", resp.Status)
		}
	})
	for _, w := range []string{"refresh", "code", "me", "discovery", "jwks"} {
		t.Run(w, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := []string{"-url", base + "/bench/v2.0", "-client", "bench-web", "-user", "alice@bench.example",
				"-redirect", "http://localhost/bench/callback", "-workload", w, "-c", "4", "-d", "700ms", "-warmup", "200ms"}
			env := map[string]string{"FOYER_LOAD_SECRET": secret, "FOYER_LOAD_PASSWORD": password}
			if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); err != nil {
				t.Fatalf("run: %v\n%s", err, errOut.String())
			}
			m := result.FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("no RESULT line in %q\n%s", out.String(), errOut.String())
			}
			if m[1] != w || m[5] != "0" {
				t.Fatalf("%s\n%s", out.String(), errOut.String())
			}
			if ops, _ := strconv.Atoi(m[6]); ops < 4 {
				t.Fatalf("only %d operations: %s", ops, out.String())
			}
			if p50, _ := strconv.ParseFloat(m[3], 64); p50 <= 0 {
				t.Fatalf("no latencies recorded: %s", out.String())
			}
		})
	}
}

func TestBounds(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "http://192.0.2.1:8080/bench/v2.0", "-workload", "discovery"},
		{"-url", "http://example.com/bench/v2.0", "-workload", "discovery"},
		{"-workload", "discovery", "-c", "5000"},
		{"-workload", "discovery", "-d", "2h"},
		{"-workload", "discovery", "-warmup", "-1s"},
		{"-workload", "nope"},
		{"-workload", "refresh", "-user", "a@b.example"}, // no secret, no password
	} {
		var errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &errOut)
		if err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(fmt.Sprintf("foyer did not answer at %s", strings.TrimPrefix(base, "http://")))
}
