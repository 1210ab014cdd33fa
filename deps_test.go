package foyer_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the architecture of STYLE.md true: the
// centre imports nothing of ours, only the protocol adapter imports
// zitadel, only the HTTP layers import gin, only cmd/ chooses a backend
// (model: tailscale's tstest/deptest).
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Deps,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/foyer-id/foyer"
	type pkg struct {
		ImportPath string
		Imports    []string
	}
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, mod) {
			imports[p.ImportPath] = p.Imports
		}
	}
	if len(imports) < 10 {
		t.Fatalf("only %d packages listed; go list output changed?", len(imports))
	}
	rules := []struct {
		who     func(string) bool
		what    func(string) bool
		message string
	}{
		{
			func(p string) bool { return p == mod+"/storage" || p == mod+"/templates" },
			func(i string) bool { return strings.HasPrefix(i, mod+"/") },
			"storage and templates import nothing of Foyer's",
		},
		{
			func(p string) bool { return p != mod+"/provider/oidcop" },
			func(i string) bool { return strings.HasPrefix(i, "github.com/zitadel/") },
			"only provider/oidcop imports zitadel/oidc",
		},
		{
			func(p string) bool { return p != mod+"/provider" },
			func(i string) bool { return strings.HasPrefix(i, "github.com/gin-gonic/") },
			"only the HTTP application (provider) imports gin",
		},
		{
			func(p string) bool { return !strings.HasPrefix(p, mod+"/cmd/") },
			func(i string) bool { return i == mod+"/storage/redisstore" },
			"only cmd/ chooses a storage backend",
		},
		{
			func(p string) bool { return true },
			func(i string) bool { return i == mod+"/storage/storagetest" },
			"the conformance suite is imported by tests only",
		},
	}
	for p, imps := range imports {
		for _, i := range imps {
			for _, r := range rules {
				if r.who(p) && r.what(i) {
					t.Errorf("%s imports %s: %s", p, i, r.message)
				}
			}
		}
	}
}
