//go:build !openssl

package main

// wantCryptoBackend is the backend this build must report.
const wantCryptoBackend = "go"
