package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVersionCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("foyer version: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	b := readBuildInfo()
	want := []string{"foyer " + b.Version, "commit " + b.Commit, "go " + runtime.Version(), "crypto " + wantCryptoBackend + ": "}
	if len(lines) != len(want) {
		t.Fatalf("foyer version printed %q", out.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q", i+1, lines[i], w)
		}
	}
}

func TestParseBuildInfo(t *testing.T) {
	info := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: version}}
		for i := 0; i < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want buildInfo
	}{
		{"no build info", nil, false, buildInfo{"(devel)", "unknown", "unknown"}},
		{"no VCS", info(""), true, buildInfo{"(devel)", "unknown", "go1.26.8"}},
		{"clean checkout", info("v0.0.0-20261203184100-ea6a4d5a15f6", "vcs.revision", "ea6a4d5a15f60f64034ddd78ca2afbda9c0e5699", "vcs.modified", "false"), true,
			buildInfo{"v0.0.0-20261203184100-ea6a4d5a15f6", "ea6a4d5a15f60f64034ddd78ca2afbda9c0e5699", "go1.26.8"}},
		{"local changes", info("(devel)", "vcs.revision", "ea6a4d5", "vcs.modified", "true"), true, buildInfo{"(devel)", "ea6a4d5+dirty", "go1.26.8"}},
	}
	for _, tt := range tests {
		if got := parseBuildInfo(tt.info, tt.ok); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// serve logs the crypto backend before anything else.
func TestServeLogsCryptoBackend(t *testing.T) {
	cfg := testConfig(t)
	cfg.Addr = "127.0.0.1:0"
	var logs backendLog
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, io.Discard, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	var line struct{ Msg, Backend, Detail, Go string }
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("first log line %q: %v", first, err)
	}
	if line.Msg != "crypto backend" || line.Backend != wantCryptoBackend || line.Detail == "" || line.Go != runtime.Version() {
		t.Fatalf("first log line %q, want the %s crypto backend", first, wantCryptoBackend)
	}
}

// backendLog is a bytes.Buffer that the server's goroutines may write to.
type backendLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *backendLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *backendLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
