package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonList is the embedded list of common passwords: one a line,
// lower-case, each at least LowestMinLength characters; lines starting
// with "#" are comments. It was compiled by hand from widely published
// top-password lists.
//
//go:embed common_passwords.txt
var commonList string

// commonSet is commonList as a set, built on first use.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 512)
	for line := range strings.Lines(commonList) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = struct{}{}
	}
	return m
})

// isCommon reports whether the lower-cased password is in the list.
func isCommon(lower string) bool {
	_, ok := commonSet()[lower]
	return ok
}
