package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors about stored hashes. Verify and NeedsRehash wrap them with detail;
// compare with errors.Is.
var (
	// ErrMalformedHash reports a string that is not a well-formed PHC
	// argon2id hash.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrUnsupportedHash reports a well-formed hash of another algorithm
	// or version, or one whose parameters are outside the limits this
	// package accepts (MaxMemory, MaxTime, ...).
	ErrUnsupportedHash = errors.New("password: unsupported hash")
)

// Limits on argon2id parameters, for stored hashes and for Config alike.
// They are far above any sensible configuration and exist so that a hash
// planted in the store cannot make a single verification consume the
// server.
const (
	// MaxMemory is the largest memory cost accepted, in KiB (1 GiB).
	MaxMemory = 1 << 20
	// MaxTime is the largest number of passes accepted.
	MaxTime = 32
	// MaxParallelism is the largest number of lanes accepted.
	MaxParallelism = 16
	// MinSaltLength and MaxSaltLength bound the salt, in bytes.
	MinSaltLength, MaxSaltLength = 8, 64
	// MinKeyLength and MaxKeyLength bound the derived key, in bytes.
	MinKeyLength, MaxKeyLength = 16, 64
)

// maxEncodedLength bounds the input of the parser: the longest valid
// encoding is well below it.
const maxEncodedLength = 256

const (
	algorithm = "argon2id"
	version   = 19 // argon2.Version, 0x13
)

// Params are argon2id's cost parameters and the salt and key lengths.
type Params struct {
	// Memory is the memory cost in KiB (at least 8 × Parallelism).
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Parallelism is the number of lanes.
	Parallelism uint8
	// SaltLength is the length of the random salt in bytes.
	SaltLength uint32
	// KeyLength is the length of the derived key in bytes.
	KeyLength uint32
}

// DefaultParams returns OWASP's first argon2id profile (m=19456 KiB, t=2,
// p=1) with a 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Validate reports whether p is within this package's limits.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1 || p.Parallelism > MaxParallelism:
		return fmt.Errorf("parallelism %d outside 1..%d", p.Parallelism, MaxParallelism)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > MaxMemory:
		return fmt.Errorf("memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Parallelism), MaxMemory)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, MaxTime)
	case p.SaltLength < MinSaltLength || p.SaltLength > MaxSaltLength:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLength, MinSaltLength, MaxSaltLength)
	case p.KeyLength < MinKeyLength || p.KeyLength > MaxKeyLength:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLength, MinKeyLength, MaxKeyLength)
	}
	return nil
}

// phc is a decoded hash.
type phc struct {
	params Params // SaltLength and KeyLength are len(salt) and len(key)
	salt   []byte
	key    []byte
}

// encode returns the PHC string of h.
func (h phc) encode() string {
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", algorithm, version,
		h.params.Memory, h.params.Time, h.params.Parallelism,
		base64.RawStdEncoding.EncodeToString(h.salt),
		base64.RawStdEncoding.EncodeToString(h.key))
}

// decode parses a PHC argon2id string strictly: fields in the canonical
// order, decimals without sign or leading zeros, base64 without padding or
// stray bits. Every string it accepts is what encode would produce, and
// its parameters pass Validate. Errors wrap ErrMalformedHash or
// ErrUnsupportedHash.
func decode(s string) (phc, error) {
	if len(s) > maxEncodedLength {
		return phc{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxEncodedLength)
	}
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return phc{}, fmt.Errorf("%w: want 5 $-separated fields", ErrMalformedHash)
	}
	alg, ver, params, salt64, key64 := fields[1], fields[2], fields[3], fields[4], fields[5]
	if alg != algorithm {
		if !isIdent(alg) {
			return phc{}, fmt.Errorf("%w: bad algorithm identifier", ErrMalformedHash)
		}
		return phc{}, fmt.Errorf("%w: algorithm %q", ErrUnsupportedHash, alg)
	}
	v, ok := strings.CutPrefix(ver, "v=")
	if !ok {
		return phc{}, fmt.Errorf("%w: missing version", ErrMalformedHash)
	}
	n, err := parseDecimal(v)
	if err != nil {
		return phc{}, fmt.Errorf("%w: version: %v", ErrMalformedHash, err)
	}
	if n != version {
		return phc{}, fmt.Errorf("%w: version %d", ErrUnsupportedHash, n)
	}

	var h phc
	kv := strings.Split(params, ",")
	if len(kv) != 3 {
		return phc{}, fmt.Errorf("%w: want parameters m, t and p", ErrMalformedHash)
	}
	for i, name := range [3]string{"m", "t", "p"} {
		val, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return phc{}, fmt.Errorf("%w: want parameter %s in position %d", ErrMalformedHash, name, i+1)
		}
		n, err := parseDecimal(val)
		if err != nil {
			return phc{}, fmt.Errorf("%w: parameter %s: %v", ErrMalformedHash, name, err)
		}
		switch name {
		case "m":
			h.params.Memory = n
		case "t":
			h.params.Time = n
		case "p":
			if n > 255 {
				return phc{}, fmt.Errorf("%w: parallelism %d", ErrUnsupportedHash, n)
			}
			h.params.Parallelism = uint8(n)
		}
	}
	if h.salt, err = decodeB64(salt64); err != nil {
		return phc{}, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	if h.key, err = decodeB64(key64); err != nil {
		return phc{}, fmt.Errorf("%w: key: %v", ErrMalformedHash, err)
	}
	h.params.SaltLength = uint32(len(h.salt))
	h.params.KeyLength = uint32(len(h.key))
	if err := h.params.Validate(); err != nil {
		return phc{}, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
	}
	return h, nil
}

// isIdent reports whether s is a PHC function identifier: 1 to 32
// characters of [a-z0-9-].
func isIdent(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// parseDecimal parses a PHC decimal: digits only, no leading zero (except
// "0" itself), fitting in 32 bits.
func parseDecimal(s string) (uint32, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	return uint32(n), nil
}

var b64 = base64.RawStdEncoding.Strict()

// decodeB64 decodes unpadded standard base64, refusing the CR and LF that
// encoding/base64 would otherwise skip and non-zero trailing bits, so that
// each value has exactly one encoding.
func decodeB64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '+' && c != '/' {
			return nil, errors.New("invalid base64 character")
		}
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	return b, nil
}
