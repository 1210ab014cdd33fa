package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// screenshotDir is where a Chromium test's screenshots go:
// $FOYER_ARTIFACTS/sub when FOYER_ARTIFACTS is set (sub may be ""), else a
// temporary folder of the test's.
func screenshotDir(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("FOYER_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if abs, err := filepath.Abs(filepath.Join(dir, sub)); err == nil {
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// runChromiumScript runs `node script` in dir, a Playwright script that
// drives Debian's Chromium, with env added to the test's environment (and
// FOYER_SCREENSHOTS=shots, FOYER_CHROMIUM), for at most limit. It fails the
// test if the script fails or overruns, and decodes the script's last line
// of output, its JSON result, into out.
func runChromiumScript(t *testing.T, dir, script string, limit time.Duration, shots string, env []string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), "FOYER_SCREENSHOTS="+shots, "FOYER_CHROMIUM="+chromiumPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s ran in %s", script, time.Since(start).Round(time.Millisecond))
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s stderr:\n%s", script, s)
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("%s still running after %s", script, limit)
		}
		t.Fatalf("%s: %v (screenshots in %s)", script, err, shots)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), out); err != nil {
		t.Fatalf("%s printed %q: %v", script, stdout.String(), err)
	}
}
