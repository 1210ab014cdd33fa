//go:build openssl

package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/keys"
)

const wantCryptoBackend = "openssl"

// mainArgsEnv makes TestMainProcess run main with these arguments (one per
// line): the way to start this test binary as the foyer command.
const mainArgsEnv = "FOYER_TEST_MAIN_ARGS"

// TestMainProcess is the foyer command for TestRefusesWithoutLibcrypto;
// on its own it has nothing to do.
func TestMainProcess(t *testing.T) {
	args := os.Getenv(mainArgsEnv)
	if args == "" {
		t.Skip("run by TestRefusesWithoutLibcrypto")
	}
	os.Args = append([]string{"foyer"}, strings.Split(args, "\n")...)
	main()
	os.Exit(0)
}

// The OpenSSL build without a loadable libcrypto refuses to serve, and
// "foyer version" says why; neither falls back to Go's crypto.
func TestRefusesWithoutLibcrypto(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libcrypto.so.3")
	for _, args := range [][]string{{"serve", "--dev", "--addr", "127.0.0.1:0"}, {"version"}} {
		t.Run(args[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainProcess$")
			cmd.Env = append(os.Environ(), mainArgsEnv+"="+strings.Join(args, "\n"), keys.LibcryptoEnv+"="+missing,
				"FOYER_KEK="+testKEKText, "FOYER_REDIS_URL=")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("foyer %s with %s: %v, want exit status 2\nstdout: %s\nstderr: %s", args[0], missing, err, stdout.String(), stderr.String())
			}
			want := "foyer: keys: this is the OpenSSL build of Foyer and it cannot load libcrypto (" + missing
			if !strings.Contains(stderr.String(), want) {
				t.Fatalf("stderr %q does not say %q", stderr.String(), want)
			}
			switch args[0] {
			case "serve":
				if !strings.Contains(stderr.String(), `"msg":"crypto backend unavailable"`) || strings.Contains(stderr.String(), "listening") {
					t.Fatalf("serve logged %q", stderr.String())
				}
			case "version":
				if !strings.Contains(stdout.String(), "\ncrypto unavailable\n") {
					t.Fatalf("version printed %q", stdout.String())
				}
			}
		})
	}
}
