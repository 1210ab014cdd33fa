package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// cheap are small parameters for tests that need many real derivations.
var cheap = Params{Memory: 64, Time: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newHasher(t testing.TB, cfg Config) *Hasher {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return h
}

func TestNewDefaults(t *testing.T) {
	h := newHasher(t, Config{})
	if got, want := h.Params(), DefaultParams(); got != want {
		t.Errorf("Params() = %+v, want %+v", got, want)
	}
	if cap(h.sem) < 1 {
		t.Errorf("concurrency %d, want at least 1", cap(h.sem))
	}
	h = newHasher(t, Config{Params: Params{Memory: 65536}})
	if got, want := h.Params(), (Params{Memory: 65536, Time: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}); got != want {
		t.Errorf("partial config: Params() = %+v, want %+v", got, want)
	}
	for _, p := range []Params{
		{Memory: MaxMemory + 1},
		{Time: MaxTime + 1},
		{Parallelism: MaxParallelism + 1},
		{SaltLength: 4},
		{KeyLength: 8},
	} {
		if _, err := New(Config{Params: p}); err == nil {
			t.Errorf("New(%+v) = nil error, want one", p)
		}
	}
}

func TestHashFormat(t *testing.T) {
	h := newHasher(t, Config{})
	enc, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want the default PHC prefix", enc)
	}
	d, err := decode(enc)
	if err != nil {
		t.Fatalf("decode(Hash()): %v", err)
	}
	if d.params != DefaultParams() {
		t.Errorf("stored params %+v, want %+v", d.params, DefaultParams())
	}
	enc2, _ := h.Hash(context.Background(), "correct horse battery staple")
	if enc == enc2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, Config{Params: cheap})
	const pw = "correct horse battery staple"
	enc, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	// A hash made with other parameters, verified by h: the string's
	// parameters must be used, not h's.
	other := newHasher(t, Config{Params: Params{Memory: 128, Time: 3, Parallelism: 2, SaltLength: 8, KeyLength: 16}})
	encOther, err := other.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(encOther, "$m=128,t=3,p=2$") {
		t.Fatalf("other hash %q does not carry its params", encOther)
	}
	// Same salt and key, parameters edited: must no longer match.
	tamperedParams := strings.Replace(enc, "t=1", "t=2", 1)
	// Flip one character of the key.
	i := len(enc) - 5
	flip := map[byte]byte{'A': 'B'}[enc[i]]
	if flip == 0 {
		flip = 'A'
	}
	tamperedKey := enc[:i] + string(flip) + enc[i+1:]
	// Other salt, same key.
	j := strings.LastIndexByte(enc, '$')
	tamperedSalt := strings.Replace(enc[:j], enc[j-4:j], "AAAA", 1) + enc[j:]
	// NFC and NFD spellings of one password.
	const nfc, nfd = "caf\u00e9 au lait, s'il vous pla\u00eet", "cafe\u0301 au lait, s'il vous plai\u0302t"
	encNFC, err := h.Hash(ctx, nfc)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		enc, pw string
		want    bool
		wantErr error
	}{
		{name: "round trip", enc: enc, pw: pw, want: true},
		{name: "wrong password", enc: enc, pw: pw + "!"},
		{name: "empty password", enc: enc, pw: ""},
		{name: "case matters", enc: enc, pw: strings.ToUpper(pw)},
		{name: "params in string honoured", enc: encOther, pw: pw, want: true},
		{name: "params in string, wrong password", enc: encOther, pw: "nope"},
		{name: "tampered params", enc: tamperedParams, pw: pw},
		{name: "tampered key", enc: tamperedKey, pw: pw},
		{name: "tampered salt", enc: tamperedSalt, pw: pw},
		{name: "NFC hash, NFD password", enc: encNFC, pw: nfd, want: true},
		{name: "empty hash", enc: "", pw: pw, wantErr: ErrMalformedHash},
		{name: "garbage", enc: "not a hash", pw: pw, wantErr: ErrMalformedHash},
		{name: "truncated", enc: enc[:len(enc)-10], pw: pw, wantErr: ErrMalformedHash},
		{name: "bcrypt", enc: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", pw: pw, wantErr: ErrMalformedHash},
		{name: "absurd memory", enc: strings.Replace(enc, "m=64", "m=4194304", 1), pw: pw, wantErr: ErrUnsupportedHash},
		{name: "argon2i", enc: strings.Replace(enc, "argon2id", "argon2i", 1), pw: pw, wantErr: ErrUnsupportedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Verify(ctx, tt.enc, tt.pw)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerifyDoesNoWorkOnBadHash(t *testing.T) {
	h := newHasher(t, Config{Params: cheap})
	var calls atomic.Int32
	h.derive = func(pw, salt []byte, p Params) []byte { calls.Add(1); return nil }
	for _, enc := range []string{"", "$argon2id$v=19$m=4194304,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := h.Verify(context.Background(), enc, "x"); err == nil {
			t.Errorf("Verify(%q) = nil error", enc)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("derive called %d times for unusable hashes", n)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newHasher(t, Config{Params: Params{Memory: 128, Time: 3, Parallelism: 2, SaltLength: 24, KeyLength: 48}})
	var got []Params
	var mu sync.Mutex
	h.derive = func(pw, salt []byte, p Params) []byte {
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		return deriveKey(pw, salt, p)
	}
	h.VerifyDummy(context.Background(), "anything at all")
	if len(got) != 1 || got[0] != h.Params() {
		t.Fatalf("VerifyDummy derived with %+v, want one derivation with %+v", got, h.Params())
	}
	if ok, err := h.Verify(context.Background(), h.dummy, ""); ok || err != nil {
		t.Errorf("Verify(dummy, \"\") = %v, %v; want false, nil", ok, err)
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, Config{Params: Params{Memory: 256, Time: 2, Parallelism: 2, SaltLength: 16, KeyLength: 32}})
	hashWith := func(p Params) string {
		t.Helper()
		enc, err := newHasher(t, Config{Params: p}).Hash(ctx, "pw")
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	tests := []struct {
		name string
		enc  string
		want bool
	}{
		{"same params", hashWith(h.Params()), false},
		{"stronger params", hashWith(Params{Memory: 512, Time: 3, Parallelism: 4, SaltLength: 32, KeyLength: 64}), false},
		{"less memory", hashWith(Params{Memory: 128, Time: 2, Parallelism: 2, SaltLength: 16, KeyLength: 32}), true},
		{"fewer passes", hashWith(Params{Memory: 256, Time: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}), true},
		{"fewer lanes", hashWith(Params{Memory: 256, Time: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}), true},
		{"shorter salt", hashWith(Params{Memory: 256, Time: 2, Parallelism: 2, SaltLength: 8, KeyLength: 32}), true},
		{"shorter key", hashWith(Params{Memory: 256, Time: 2, Parallelism: 2, SaltLength: 16, KeyLength: 16}), true},
		{"more memory, fewer passes", hashWith(Params{Memory: 1024, Time: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}), true},
		{"malformed", "garbage", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.NeedsRehash(tt.enc); got != tt.want {
				t.Errorf("NeedsRehash(%q) = %v, want %v", tt.enc, got, tt.want)
			}
		})
	}
}

// probe instruments a Hasher's hooks: it counts derivations in flight,
// records the maximum, and holds each derivation until released.
type probe struct {
	inFlight, max atomic.Int32
	entered       chan struct{} // one send per derivation started
	waiting       chan struct{} // one send per caller that had to wait
	release       chan struct{} // one receive lets one derivation finish
}

func instrument(h *Hasher) *probe {
	p := &probe{entered: make(chan struct{}, 64), waiting: make(chan struct{}, 64), release: make(chan struct{})}
	next := h.derive
	h.derive = func(pw, salt []byte, par Params) []byte {
		n := p.inFlight.Add(1)
		for {
			m := p.max.Load()
			if n <= m || p.max.CompareAndSwap(m, n) {
				break
			}
		}
		p.entered <- struct{}{}
		<-p.release
		defer p.inFlight.Add(-1)
		return next(pw, salt, par)
	}
	h.waiting = func() { p.waiting <- struct{}{} }
	return p
}

func TestConcurrencyBound(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("concurrency=%d", n), func(t *testing.T) {
			h := newHasher(t, Config{Params: cheap, Concurrency: n})
			p := instrument(h)
			var wg sync.WaitGroup
			errs := make(chan error, n+1)
			hash := func() {
				defer wg.Done()
				_, err := h.Hash(context.Background(), "pw")
				errs <- err
			}
			// n callers take every slot.
			for range n {
				wg.Add(1)
				go hash()
			}
			for range n {
				<-p.entered
			}
			// One more has to wait.
			wg.Add(1)
			go hash()
			<-p.waiting
			if got := p.inFlight.Load(); got != int32(n) {
				t.Fatalf("in flight with a waiter = %d, want %d", got, n)
			}
			// Let one finish: the waiter enters.
			p.release <- struct{}{}
			<-p.entered
			for range n {
				p.release <- struct{}{}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if got := p.max.Load(); got != int32(n) {
				t.Errorf("max in flight = %d, want %d", got, n)
			}
		})
	}
}

func TestConcurrencyBoundUnderLoad(t *testing.T) {
	h := newHasher(t, Config{Params: cheap, Concurrency: 2})
	var inFlight, maxInFlight atomic.Int32
	h.derive = func(pw, salt []byte, p Params) []byte {
		n := inFlight.Add(1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		defer inFlight.Add(-1)
		return deriveKey(pw, salt, p)
	}
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if ok, err := h.Verify(context.Background(), enc, "pw"); !ok || err != nil {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	if got := maxInFlight.Load(); got > 2 {
		t.Errorf("max in flight = %d, want at most 2", got)
	}
}

func TestContextWhileWaiting(t *testing.T) {
	h := newHasher(t, Config{Params: cheap, Concurrency: 1})
	p := instrument(h)
	done := make(chan error, 1)
	go func() { _, err := h.Hash(context.Background(), "pw"); done <- err }()
	<-p.entered

	ctx, cancel := context.WithCancel(context.Background())
	waiterErr := make(chan error, 1)
	go func() { _, err := h.Verify(ctx, h.dummy, "pw"); waiterErr <- err }()
	<-p.waiting
	cancel()
	if err := <-waiterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Verify after cancel: %v, want context.Canceled", err)
	}
	if got := p.inFlight.Load(); got != 1 {
		t.Errorf("in flight = %d, want 1", got)
	}
	p.release <- struct{}{}
	if err := <-done; err != nil {
		t.Error(err)
	}

	// An already-ended context does no work even with a free slot.
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled ctx: %v, want context.Canceled", err)
	}
	if ok, err := h.Verify(ctx, h.dummy, "pw"); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with cancelled ctx: %v, %v", ok, err)
	}
	if got := p.max.Load(); got != 1 {
		t.Errorf("max in flight = %d, want 1", got)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestRandFailure(t *testing.T) {
	if _, err := New(Config{Rand: failingReader{}}); err == nil {
		t.Error("New with a failing random source: nil error")
	}
}

func BenchmarkHash(b *testing.B) {
	h := newHasher(b, Config{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := newHasher(b, Config{})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := h.Verify(ctx, enc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkVerifyDummy(b *testing.B) {
	h := newHasher(b, Config{})
	ctx := context.Background()
	for b.Loop() {
		h.VerifyDummy(ctx, "correct horse battery staple")
	}
}

// BenchmarkVerifyParallel shows the semaphore at work: throughput is bound
// by Concurrency (the CPU count), whatever the number of goroutines.
func BenchmarkVerifyParallel(b *testing.B) {
	h := newHasher(b, Config{})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := h.Verify(ctx, enc, "correct horse battery staple"); !ok || err != nil {
				b.Error(ok, err)
				return
			}
		}
	})
}
