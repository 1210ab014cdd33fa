package password

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	const good = "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	tests := []struct {
		name    string
		in      string
		want    error // nil: decodes
		wantPar Params
	}{
		{name: "ok", in: good, wantPar: Params{Memory: 64, Time: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}},
		{name: "default shape", in: "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			wantPar: Params{Memory: 19456, Time: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{name: "empty", in: "", want: ErrMalformedHash},
		{name: "bcrypt", in: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", want: ErrMalformedHash},
		{name: "argon2i", in: strings.Replace(good, "argon2id", "argon2i", 1), want: ErrUnsupportedHash},
		{name: "bad identifier", in: strings.Replace(good, "argon2id", "Argon2ID", 1), want: ErrMalformedHash},
		{name: "version 16", in: strings.Replace(good, "v=19", "v=16", 1), want: ErrUnsupportedHash},
		{name: "no version", in: "$argon2id$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U", want: ErrMalformedHash},
		{name: "version leading zero", in: strings.Replace(good, "v=19", "v=019", 1), want: ErrMalformedHash},
		{name: "params reordered", in: strings.Replace(good, "m=64,t=1,p=2", "t=1,m=64,p=2", 1), want: ErrMalformedHash},
		{name: "params missing", in: strings.Replace(good, "m=64,t=1,p=2", "m=64,t=1", 1), want: ErrMalformedHash},
		{name: "params extra", in: strings.Replace(good, "m=64,t=1,p=2", "m=64,t=1,p=2,keyid=x", 1), want: ErrMalformedHash},
		{name: "param sign", in: strings.Replace(good, "m=64", "m=+64", 1), want: ErrMalformedHash},
		{name: "param negative", in: strings.Replace(good, "t=1", "t=-1", 1), want: ErrMalformedHash},
		{name: "param leading zero", in: strings.Replace(good, "m=64", "m=064", 1), want: ErrMalformedHash},
		{name: "param empty", in: strings.Replace(good, "m=64", "m=", 1), want: ErrMalformedHash},
		{name: "param overflow", in: strings.Replace(good, "m=64", "m=4294967296", 1), want: ErrMalformedHash},
		{name: "memory above 1 GiB", in: strings.Replace(good, "m=64", "m=1048577", 1), want: ErrUnsupportedHash},
		{name: "memory 4 GiB", in: strings.Replace(good, "m=64", "m=4194304", 1), want: ErrUnsupportedHash},
		{name: "memory below 8p", in: strings.Replace(good, "m=64", "m=15", 1), want: ErrUnsupportedHash},
		{name: "time zero", in: strings.Replace(good, "t=1", "t=0", 1), want: ErrUnsupportedHash},
		{name: "time huge", in: strings.Replace(good, "t=1", "t=100000", 1), want: ErrUnsupportedHash},
		{name: "parallelism zero", in: strings.Replace(good, "p=2", "p=0", 1), want: ErrUnsupportedHash},
		{name: "parallelism 255", in: strings.Replace(good, "p=2", "p=255", 1), want: ErrUnsupportedHash},
		{name: "parallelism 256", in: strings.Replace(good, "p=2", "p=256", 1), want: ErrUnsupportedHash},
		{name: "salt too short", in: strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdA", 1), want: ErrUnsupportedHash},
		{name: "key too short", in: strings.Replace(good, "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U", "a2V5", 1), want: ErrUnsupportedHash},
		{name: "salt empty", in: strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "", 1), want: ErrMalformedHash},
		{name: "salt padded", in: strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdHNhbHRzYWx0c2FsdA==", 1), want: ErrMalformedHash},
		{name: "salt url alphabet", in: strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdHNhbHRzYWx0c2Fsd_", 1), want: ErrMalformedHash},
		{name: "salt with newline", in: strings.Replace(good, "c2FsdHNhbHRz", "c2FsdHNh\nbHRz", 1), want: ErrMalformedHash},
		{name: "salt trailing bits", in: strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdHNhbHRzYWx0c2FsdB", 1), want: ErrMalformedHash},
		{name: "key length 1 mod 4", in: good + "AA", want: ErrMalformedHash},
		{name: "trailing dollar", in: good + "$", want: ErrMalformedHash},
		{name: "no leading dollar", in: good[1:], want: ErrMalformedHash},
		{name: "too long", in: good + strings.Repeat("A", 300), want: ErrMalformedHash},
		{name: "only dollars", in: "$$$$$", want: ErrMalformedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.in)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("decode(%q) error = %v, want %v", tt.in, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode(%q): %v", tt.in, err)
			}
			if got.params != tt.wantPar {
				t.Errorf("params = %+v, want %+v", got.params, tt.wantPar)
			}
			if enc := got.encode(); enc != tt.in {
				t.Errorf("encode(decode(s)) = %q, want %q", enc, tt.in)
			}
		})
	}
}

// FuzzDecode checks that the PHC parser never panics, that everything it
// accepts is within the limits, and that it accepts exactly one encoding of
// each hash (encode(decode(s)) == s).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=1048576,t=32,p=16$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"", "$", "$$$$$", "$argon2id$v=19$m=,t=,p=$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := decode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnsupportedHash) {
				t.Fatalf("decode(%q): error %v wraps neither sentinel", s, err)
			}
			return
		}
		if err := h.params.Validate(); err != nil {
			t.Fatalf("decode(%q) accepted invalid params: %v", s, err)
		}
		if int(h.params.SaltLength) != len(h.salt) || int(h.params.KeyLength) != len(h.key) {
			t.Fatalf("decode(%q): lengths %+v disagree with salt %d, key %d", s, h.params, len(h.salt), len(h.key))
		}
		if enc := h.encode(); enc != s {
			t.Fatalf("decode(%q) re-encodes as %q", s, enc)
		}
		h2, err := decode(h.encode())
		if err != nil || h2.params != h.params || !bytes.Equal(h2.salt, h.salt) || !bytes.Equal(h2.key, h.key) {
			t.Fatalf("round trip of %q: %+v, %v", s, h2, err)
		}
	})
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("DefaultParams: %v", err)
	}
	bad := []Params{
		{},
		{Memory: MaxMemory + 1, Time: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		{Memory: 64, Time: MaxTime + 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		{Memory: 64, Time: 1, Parallelism: MaxParallelism + 1, SaltLength: 16, KeyLength: 32},
		{Memory: 64, Time: 1, Parallelism: 1, SaltLength: MinSaltLength - 1, KeyLength: 32},
		{Memory: 64, Time: 1, Parallelism: 1, SaltLength: 16, KeyLength: MaxKeyLength + 1},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", p)
		}
	}
}
