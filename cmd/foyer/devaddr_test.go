package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestDevListensOnLoopback: --dev serves the unauthenticated dev mailbox
// (reset codes), so without an address it listens on 127.0.0.1 only; an
// address given by flag or environment wins, and without --dev the default
// stays every interface.
func TestDevListensOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"--dev", []string{"--dev"}, nil, "127.0.0.1:8080"},
		{"FOYER_DEV", nil, map[string]string{"FOYER_DEV": "true"}, "127.0.0.1:8080"},
		{"--dev with --addr", []string{"--dev", "--addr", ":9000"}, nil, ":9000"},
		{"--dev with --addr of the default", []string{"--dev", "--addr=:8080"}, nil, ":8080"},
		{"--dev with FOYER_ADDR", []string{"--dev"}, map[string]string{"FOYER_ADDR": "0.0.0.0:8080"}, "0.0.0.0:8080"},
		{"--dev=false", []string{"--dev=false"}, map[string]string{"FOYER_DEV": "true"}, ":8080"},
		{"without --dev", nil, nil, ":8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(tc.args, envFrom(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tc.want {
				t.Fatalf("Addr = %q, want %q", c.Addr, tc.want)
			}
		})
	}
	_, err := loadConfig([]string{"-h"}, envFrom(nil))
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), "with --dev the default is 127.0.0.1:8080") {
		t.Fatalf("usage does not tell the --dev default:\n%v", err)
	}
}
