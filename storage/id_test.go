package storage

import "testing"

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !IsID(id) {
			t.Fatalf("NewID() = %q, not a GUID", id)
		}
		if id[14] != '4' || !(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') {
			t.Fatalf("NewID() = %q: wrong version or variant", id)
		}
		if seen[id] {
			t.Fatalf("duplicate %q", id)
		}
		seen[id] = true
	}
}

func TestIsID(t *testing.T) {
	for s, want := range map[string]bool{
		"5f0c6c4e-8a3b-4c1d-9e2f-0123456789ab": true,
		"5F0C6C4E-8A3B-4C1D-9E2F-0123456789AB": false, // the canonical form is lower-case
		"contoso":                              false,
		"5f0c6c4e-8a3b-4c1d-9e2f-0123456789a":  false,
		"5f0c6c4e08a3b-4c1d-9e2f-0123456789ab": false,
		"5f0c6c4e-8a3b-4c1d-9e2f-0123456789ag": false,
	} {
		if got := IsID(s); got != want {
			t.Errorf("IsID(%q) = %v, want %v", s, got, want)
		}
	}
}
