//go:build openssl && !cgo

package keys

// The OpenSSL build needs cgo: build it with CGO_ENABLED=1 and a C compiler.
// Without cgo this constant stops the build instead of letting it fall back
// to Go's crypto.
const _ = the_openssl_build_of_foyer_needs_cgo_set_CGO_ENABLED_1
