package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPolicyCheck(t *testing.T) {
	long := strings.Repeat("ab", 128) // 256 code points
	tests := []struct {
		name   string
		policy Policy
		pw     string
		email  string
		want   Reason // "" for accepted
	}{
		{name: "default minimum, 15 accepted", pw: "unusual tofu 15", want: ""},
		{name: "default minimum, 14 refused", pw: "unusual tofu 1", want: ReasonTooShort},
		{name: "empty", pw: "", want: ReasonTooShort},
		{name: "tenant minimum 8", policy: Policy{MinLength: 8}, pw: "zx9!kq2m", want: ""},
		{name: "tenant minimum 8, 7 refused", policy: Policy{MinLength: 8}, pw: "zx9!kq2", want: ReasonTooShort},
		{name: "minimum below 8 clamped", policy: Policy{MinLength: 4}, pw: "zx9!kq2", want: ReasonTooShort},
		{name: "minimum above 256 clamped", policy: Policy{MinLength: 1000}, pw: long, want: ""},
		{name: "256 code points", pw: long, want: ""},
		{name: "257 code points", pw: long + "c", want: ReasonTooLong},
		{name: "multi-byte counted as code points", policy: Policy{MinLength: 8}, pw: "日本語のパスワ", want: ReasonTooShort},
		{name: "multi-byte, 8 code points", policy: Policy{MinLength: 8}, pw: "日本語のパスワード", want: ""},
		{name: "256 multi-byte code points", pw: strings.Repeat("é", 256), want: ""},
		{name: "NFD counted after NFC", policy: Policy{MinLength: 8}, pw: strings.Repeat("e\u0301", 7), want: ReasonTooShort},
		{name: "common", policy: Policy{MinLength: 8}, pw: "password1", want: ReasonCommon},
		{name: "common, any case", policy: Policy{MinLength: 8}, pw: "PassWord1", want: ReasonCommon},
		{name: "common long", pw: "qwertyuiopasdfghjkl", want: ReasonCommon},
		{name: "common as a part is fine", pw: "password1 with extra words", want: ""},
		{name: "contains local part", pw: "my name is alice.smith ok", email: "alice.smith@example.com", want: ReasonContainsEmail},
		{name: "contains local part, any case", pw: "My name is ALICE.Smith ok", email: "Alice.Smith@Example.com", want: ReasonContainsEmail},
		{name: "local part of 3", pw: "bob likes long walks", email: "bob@example.com", want: ReasonContainsEmail},
		{name: "local part of 2 ignored", pw: "joanna likes long walks", email: "jo@example.com", want: ""},
		{name: "domain is not the local part", pw: "example forever and ever", email: "zed@example.com", want: ""},
		{name: "no email", pw: "some long passphrase", email: "", want: ""},
		{name: "email without @", pw: "alice in wonderland!", email: "alice", want: ""},
		{name: "quoted local part with @", pw: "what about a@b then", email: `"a@b"@example.com`, want: ""},
		{name: "length checked first", pw: "alice", email: "alice@example.com", want: ReasonTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw, tt.email)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check(%q, %q) = %v, want nil", tt.pw, tt.email, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q, %q) = %v, want a *PolicyError %s", tt.pw, tt.email, err, tt.want)
			}
			if pe.Reason != tt.want {
				t.Errorf("Reason = %s, want %s", pe.Reason, tt.want)
			}
			if pe.MaxLength != MaxLength || pe.MinLength != tt.policy.minLength() {
				t.Errorf("limits = %d..%d, want %d..%d", pe.MinLength, pe.MaxLength, tt.policy.minLength(), MaxLength)
			}
		})
	}
}

func TestPolicyErrorIs(t *testing.T) {
	sentinels := map[Reason]error{
		ReasonTooShort:      ErrTooShort,
		ReasonTooLong:       ErrTooLong,
		ReasonCommon:        ErrCommon,
		ReasonContainsEmail: ErrContainsEmail,
	}
	for r, want := range sentinels {
		err := error(&PolicyError{Reason: r, MinLength: 15, MaxLength: MaxLength})
		for r2, other := range sentinels {
			if got := errors.Is(err, other); got != (r == r2) {
				t.Errorf("errors.Is(%s, %v) = %v", r, other, got)
			}
		}
		if !errors.Is(err, want) {
			t.Errorf("%s does not match %v", r, want)
		}
		if msg := err.Error(); msg == "" || strings.ToLower(msg) != msg {
			t.Errorf("Error() = %q, want a lower-case message", msg)
		}
	}
	if err := (Policy{}).Check("short", ""); err.Error() != "password: shorter than 15 characters" {
		t.Errorf("Error() = %q", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, n := range []int{0, 8, 15, 256} {
		if err := (Policy{MinLength: n}).Validate(); err != nil {
			t.Errorf("Validate(MinLength %d) = %v", n, err)
		}
	}
	for _, n := range []int{-1, 1, 7, 257} {
		if err := (Policy{MinLength: n}).Validate(); err == nil {
			t.Errorf("Validate(MinLength %d) = nil", n)
		}
	}
}

func TestCommonList(t *testing.T) {
	set := commonSet()
	if len(set) < 300 {
		t.Errorf("common list has %d entries, want a few hundred", len(set))
	}
	seen := map[string]bool{}
	for line := range strings.Lines(commonList) {
		line = strings.TrimRight(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line != strings.TrimSpace(line) || line != strings.ToLower(line) {
			t.Errorf("entry %q is not trimmed lower-case", line)
		}
		if utf8.RuneCountInString(line) < LowestMinLength {
			t.Errorf("entry %q is shorter than %d", line, LowestMinLength)
		}
		if seen[line] {
			t.Errorf("entry %q is duplicated", line)
		}
		seen[line] = true
	}
	for _, pw := range []string{"password", "12345678", "iloveyou", "qwertyuiop", "correcthorsebatterystaple"} {
		if !isCommon(pw) {
			t.Errorf("%q not in the list", pw)
		}
	}
}
