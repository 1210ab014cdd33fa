package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/storage"
)

// crossDirEnv hands TestCrossBuildPeer, in the other build, the directory
// TestCrossBuild exchanges keys and tokens through.
const crossDirEnv = "FOYER_CROSS_BUILD_DIR"

// crossAlgs are the algorithms crossed between the builds.
var crossAlgs = []string{RS256, ES256}

// TestCrossBuild crosses the two builds of this package, the default one
// (Go's crypto) and -tags openssl (libcrypto for RS256), on the same keys:
//
//  1. this build creates a tenant's keys and signs a token per algorithm;
//  2. the other build, compiled and run here as a subprocess
//     (TestCrossBuildPeer), loads the same sealed keys, verifies those
//     tokens with its KeySet and go-jose, and signs the same claims;
//  3. this build verifies the other's tokens with its KeySet and go-jose,
//     and checks that both RS256 tokens are the same bytes (PKCS#1 v1.5 is
//     deterministic) while the backends differ;
//  4. the jose npm package verifies all four against the published JWKS.
//
// It needs the go command, and for the OpenSSL build a C compiler and
// libcrypto; with CI=true their absence fails the test.
func TestCrossBuild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := newStore(t)
	m := newManager(t, st, newClock())
	for _, alg := range crossAlgs {
		writeFile(t, dir, thisBuild+"-"+alg+".jws", signToken(t, mustSigner(t, m, tenantA, alg), benchClaims))
	}
	set, err := json.Marshal(stored(t, st, tenantA))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "keys.json", string(set))
	jwks, err := m.JWKS(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "jwks.json", string(jwks))

	other := "go"
	if otherBuildTags == "openssl" {
		other = "openssl"
	}
	runOtherBuild(t, dir)
	if got := readFile(t, dir, "backend.txt"); got != other {
		t.Fatalf("the other build reports backend %q, want %q", got, other)
	}

	var files []string
	for _, alg := range crossAlgs {
		for _, build := range []string{thisBuild, other} {
			tok := readFile(t, dir, build+"-"+alg+".jws")
			if err := verify(t, m, tenantA, tok); err != nil {
				t.Fatalf("%s token of the %s build: KeySet.Verify: %v", alg, build, err)
			}
			verifyWithJWKS(t, jwks, tok)
			files = append(files, filepath.Join(dir, build+"-"+alg+".jws"))
		}
	}
	if a, b := readFile(t, dir, "go-RS256.jws"), readFile(t, dir, "openssl-RS256.jws"); a != b {
		t.Fatalf("RS256 tokens of the same key and claims differ between the builds:\n go:      %s\n openssl: %s", a, b)
	}

	t.Run("jose npm", func(t *testing.T) {
		joseDir := filepath.Join("testdata", "jose")
		if _, err := os.Stat(filepath.Join(joseDir, "node_modules", "jose")); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("jose npm package missing (npm ci in keys/testdata/jose): %v", err)
			}
			t.Skip("jose npm package not installed (cd keys/testdata/jose && npm ci)")
		}
		cmd := exec.Command("node", append([]string{"verify.mjs", filepath.Join(dir, "jwks.json")}, files...)...)
		cmd.Dir = joseDir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node verify.mjs: %v\n%s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(files) {
			t.Fatalf("jose verified %d tokens, want %d:\n%s", len(lines), len(files), out)
		}
		for i, line := range lines {
			var r struct{ File, Alg, Kid, Payload string }
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			if r.File != files[i] || r.Payload != benchClaims || !strings.HasSuffix(r.File, "-"+r.Alg+".jws") || r.Kid == "" {
				t.Fatalf("jose: %s", line)
			}
		}
	})
}

// runOtherBuild compiles and runs TestCrossBuildPeer in the other build.
func runOtherBuild(t *testing.T, dir string) {
	t.Helper()
	args := []string{"test", "-count=1", "-run", "^TestCrossBuildPeer$"}
	env := append(os.Environ(), crossDirEnv+"="+dir)
	if otherBuildTags != "" {
		args = append(args, "-tags", otherBuildTags)
		env = append(env, "CGO_ENABLED=1")
		if os.Getenv("CI") != "true" {
			cc, err := exec.Command("go", "env", "CC").Output()
			if _, lerr := exec.LookPath(strings.TrimSpace(string(cc))); err != nil || lerr != nil {
				t.Skip("no C compiler for the OpenSSL build")
			}
		}
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !bytes.Contains(out, []byte("ok ")) {
		t.Fatalf("go %s ran no test:\n%s", strings.Join(args, " "), out)
	}
}

// TestCrossBuildPeer is the other build's half of TestCrossBuild, which
// runs it; on its own it has nothing to do.
func TestCrossBuildPeer(t *testing.T) {
	dir := os.Getenv(crossDirEnv)
	if dir == "" {
		t.Skip("run by TestCrossBuild in the other build")
	}
	var set []storage.SigningKey
	if err := json.Unmarshal([]byte(readFile(t, dir, "keys.json")), &set); err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	if _, err := st.UpdateSigningKeys(context.Background(), tenantA, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return set, nil
	}); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, st, newClock())
	jwks := []byte(readFile(t, dir, "jwks.json"))
	other := "go"
	if thisBuild == "go" {
		other = "openssl"
	}
	for _, alg := range crossAlgs {
		tok := readFile(t, dir, other+"-"+alg+".jws")
		if err := verify(t, m, tenantA, tok); err != nil {
			t.Fatalf("%s token of the %s build: KeySet.Verify: %v", alg, other, err)
		}
		verifyWithJWKS(t, jwks, tok)
		writeFile(t, dir, thisBuild+"-"+alg+".jws", signToken(t, mustSigner(t, m, tenantA, alg), benchClaims))
	}
	b, err := CryptoBackend()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "backend.txt", b.Name)
}

// verifyWithJWKS verifies tok with go-jose alone, against the key of its
// kid in the JSON Web Key Set jwks.
func verifyWithJWKS(t *testing.T, jwks []byte, tok string) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{RS256, ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", jws.Signatures[0].Header.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil || string(payload) != benchClaims {
		t.Fatalf("go-jose Verify: %v", err)
	}
}

func writeFile(t *testing.T, dir, name, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
