package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveArgs runs `foyer serve` with args (and the embedded Redis) until the
// test ends, and returns the bound address and what it printed.
func serveArgs(t *testing.T, devCADir string, args ...string) (addr string, out *syncBuffer) {
	t.Helper()
	cfg, err := loadValidConfig(append([]string{"--addr", "127.0.0.1:0"}, args...), func(k string) string {
		if k == "FOYER_KEK" && !strings.Contains(strings.Join(args, " "), "--dev") {
			return testKEKText
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.devCADir = devCADir
	cfg.ShutdownTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), out, ready) }()
	select {
	case addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start in 30 s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return addr, out
}

// httpsClient trusts only the PEM certificates in caFile.
func httpsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no PEM certificate", caFile)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestServeDevTLS(t *testing.T) {
	dir := t.TempDir()
	addr, out := serveArgs(t, dir, "--dev", "--public-url", "https://localhost:8443")
	caFile := filepath.Join(dir, devCAFile)
	if !strings.Contains(out.String(), caFile) || !strings.Contains(out.String(), "NODE_EXTRA_CA_CERTS="+caFile) {
		t.Fatalf("serve --dev over https did not print the CA file %s:\n%s", caFile, out)
	}
	if fi, err := os.Stat(filepath.Join(dir, devCAKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA key file: %v %v", fi, err)
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	c := httpsClient(t, caFile)
	// The certificate names localhost and the loopback addresses.
	for _, host := range []string{"localhost", "127.0.0.1"} {
		resp, err := c.Get("https://" + host + ":" + port + "/contoso/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"issuer":"https://localhost:8443/`) {
			t.Fatalf("discovery over dev TLS: %d %s", resp.StatusCode, body)
		}
		if resp.TLS == nil {
			t.Fatal("not TLS")
		}
	}
	// Plain HTTP is not served on that port.
	if resp, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Fatal("plain HTTP answered 200 on the TLS port")
	}

	// A second start keeps the CA (a browser that trusts it keeps doing
	// so) and issues a new leaf under it.
	before, _ := os.ReadFile(caFile)
	addr2, _ := serveArgs(t, dir, "--dev", "--public-url", "https://localhost:8443")
	after, _ := os.ReadFile(caFile)
	if !bytes.Equal(before, after) {
		t.Fatal("the dev CA changed between two starts")
	}
	if resp, err := c.Get("https://" + addr2 + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("second start: %v", err)
	}

	// The CA is constrained to loopback names: a leaf it signed for
	// another name would not verify.
	blk, _ := pem.Decode(before)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.PermittedDNSDomainsCritical || strings.Join(ca.PermittedDNSDomains, ",") != "localhost" {
		t.Fatalf("CA name constraints: %v", ca.PermittedDNSDomains)
	}

	// --dev over plain http stays plain http and writes no CA.
	dir2 := t.TempDir()
	addr3, out3 := serveArgs(t, dir2, "--dev")
	if resp, err := http.Get("http://" + addr3 + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("--dev over http: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, devCAFile)); err == nil || strings.Contains(out3.String(), "NODE_EXTRA_CA_CERTS") {
		t.Fatal("--dev over http generated a CA")
	}
}

func TestServeTLSCertFiles(t *testing.T) {
	// A certificate from elsewhere: here, one the dev CA code issues.
	dir := t.TempDir()
	ca, caKey, err := loadOrCreateDevCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := devLeaf(ca, caKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var chain bytes.Buffer
	for _, der := range leaf.Certificate {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, chain.Bytes(), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	// Flags (no --dev: a production start with a KEK).
	other := t.TempDir()
	addr, out := serveArgs(t, other, "--public-url", "https://localhost:8443", "--tls-cert-file", certFile, "--tls-key-file", keyFile)
	c := httpsClient(t, filepath.Join(dir, devCAFile))
	if resp, err := c.Get("https://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("--tls-cert-file: %v", err)
	}
	if strings.Contains(out.String(), "NODE_EXTRA_CA_CERTS") {
		t.Fatal("printed a dev CA with --tls-cert-file")
	}
	if _, err := os.Stat(filepath.Join(other, devCAFile)); err == nil {
		t.Fatal("generated a dev CA with --tls-cert-file")
	}

	// Environment twins.
	cfg, err := loadConfig(nil, func(k string) string {
		return map[string]string{"FOYER_TLS_CERT_FILE": certFile, "FOYER_TLS_KEY_FILE": keyFile}[k]
	})
	if err != nil || cfg.TLSCertFile != certFile || cfg.TLSKeyFile != keyFile {
		t.Fatalf("env twins: %+v %v", cfg, err)
	}

	// Configuration errors.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert-file", certFile, "--public-url", "https://id.example"}, "--tls-cert-file (FOYER_TLS_CERT_FILE) and --tls-key-file (FOYER_TLS_KEY_FILE) go together"},
		{[]string{"--tls-key-file", keyFile, "--public-url", "https://id.example"}, "go together"},
		{[]string{"--tls-cert-file", certFile, "--tls-key-file", keyFile}, "must be https when Foyer serves TLS itself"},
	} {
		_, err := loadValidConfig(tc.args, func(k string) string {
			if k == "FOYER_KEK" {
				return testKEKText
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	// Unreadable files fail the start, naming the flags.
	cfg, err = loadValidConfig([]string{"--public-url", "https://id.example", "--tls-cert-file", keyFile, "--tls-key-file", certFile}, func(k string) string {
		if k == "FOYER_KEK" {
			return testKEKText
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil); err == nil || !strings.Contains(err.Error(), "--tls-cert-file") {
		t.Fatalf("swapped certificate and key: %v", err)
	}
}
