package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Config configures a Hasher.
type Config struct {
	// Params are the parameters of new hashes; zero fields take the
	// values of DefaultParams.
	Params Params
	// Concurrency is the most derivations run at once; 0 or less means
	// runtime.NumCPU().
	Concurrency int
	// Rand is the source of salts; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Hasher hashes and verifies passwords with argon2id, at most
// Config.Concurrency at a time. It is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{}
	rand   io.Reader
	// dummy is a hash with h.params that no password matches, for
	// VerifyDummy.
	dummy string

	// Test hooks: derive computes the key; waiting, when set, is called
	// when a caller has to wait for a slot.
	derive  func(pw, salt []byte, p Params) []byte
	waiting func()
}

// New returns a Hasher for cfg. It returns an error if the parameters are
// outside this package's limits (see Params.Validate) or the random source
// fails.
func New(cfg Config) (*Hasher, error) {
	p, d := cfg.Params, DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLength == 0 {
		p.SaltLength = d.SaltLength
	}
	if p.KeyLength == 0 {
		p.KeyLength = d.KeyLength
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("password: config: %v", err)
	}
	n := cfg.Concurrency
	if n <= 0 {
		n = runtime.NumCPU()
	}
	h := &Hasher{
		params: p,
		sem:    make(chan struct{}, n),
		rand:   cfg.Rand,
		derive: deriveKey,
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	// The dummy's key is random, not derived: nothing matches it, and
	// building it costs no hashing at start-up.
	dummy := phc{params: p, salt: make([]byte, p.SaltLength), key: make([]byte, p.KeyLength)}
	if _, err := io.ReadFull(h.rand, dummy.salt); err != nil {
		return nil, fmt.Errorf("password: reading random salt: %w", err)
	}
	if _, err := io.ReadFull(h.rand, dummy.key); err != nil {
		return nil, fmt.Errorf("password: reading random key: %w", err)
	}
	h.dummy = dummy.encode()
	return h, nil
}

func deriveKey(pw, salt []byte, p Params) []byte {
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Parallelism, p.KeyLength)
}

// Params returns the parameters of the hashes h makes.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC encoding of a fresh argon2id hash of pw with a
// random salt. It waits for a free slot and returns the context's error if
// ctx ends first, or an error if the random source fails.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("password: reading random salt: %w", err)
	}
	key, err := h.run(ctx, pw, salt, h.params)
	if err != nil {
		return "", err
	}
	return phc{params: h.params, salt: salt, key: key}.encode(), nil
}

// Verify reports whether pw matches the encoded hash, using the parameters
// stored in it. It returns false and an error wrapping ErrMalformedHash or
// ErrUnsupportedHash for a hash it cannot use (before doing any work), and
// the context's error if ctx ends while it waits for a slot. A wrong
// password is (false, nil).
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	stored, err := decode(encoded)
	if err != nil {
		return false, err
	}
	key, err := h.run(ctx, pw, stored.salt, stored.params)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, stored.key) == 1, nil
}

// VerifyDummy does the work of a Verify against a hash made with h's
// parameters and discards the result. Call it when the account does not
// exist (or has no password) so that the response takes as long as for a
// real account.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) {
	_, _ = h.Verify(ctx, h.dummy, pw)
}

// NeedsRehash reports whether encoded should be replaced by a fresh Hash:
// when any of its parameters (memory, time, parallelism, salt or key
// length) is below h's, or when it cannot be decoded at all.
func (h *Hasher) NeedsRehash(encoded string) bool {
	stored, err := decode(encoded)
	if err != nil {
		return true
	}
	s, c := stored.params, h.params
	return s.Memory < c.Memory || s.Time < c.Time || s.Parallelism < c.Parallelism ||
		s.SaltLength < c.SaltLength || s.KeyLength < c.KeyLength
}

// run derives the key of pw under the semaphore.
func (h *Hasher) run(ctx context.Context, pw string, salt []byte, p Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.sem }()
	return h.derive([]byte(norm.NFC.String(pw)), salt, p), nil
}

// acquire takes a slot, or returns the context's error if ctx ends first.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if h.waiting != nil {
		h.waiting()
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
}
