package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/foyer-id/foyer/keys"
)

// buildInfo is what "foyer version" prints, from the build information the
// go command stamps into the binary.
type buildInfo struct {
	Version string // module version, or "(devel)"
	Commit  string // VCS revision, "+dirty" when built with local changes; "unknown" without VCS
	Go      string // the Go toolchain that built the binary
}

func readBuildInfo() buildInfo { return parseBuildInfo(debug.ReadBuildInfo()) }

func parseBuildInfo(info *debug.BuildInfo, ok bool) buildInfo {
	b := buildInfo{Version: "(devel)", Commit: "unknown", Go: "unknown"}
	if !ok || info == nil {
		return b
	}
	b.Go = info.GoVersion
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Commit != "unknown" {
		b.Commit += "+dirty"
	}
	return b
}

// versionCommand prints the version, commit, Go version and crypto backend.
// In the OpenSSL build without a loadable libcrypto it prints why and fails,
// as serve does.
func versionCommand(stdout io.Writer) error {
	b := readBuildInfo()
	fmt.Fprintf(stdout, "foyer %s\ncommit %s\ngo %s\n", b.Version, b.Commit, b.Go)
	backend, err := keys.CryptoBackend()
	if err != nil {
		fmt.Fprintf(stdout, "crypto unavailable\n")
		return err
	}
	fmt.Fprintf(stdout, "crypto %s\n", backend)
	return nil
}

// checkCryptoBackend logs, at start, which backend makes the signatures. It
// returns the error that stops the OpenSSL build when libcrypto cannot be
// loaded: such a binary never signs with Go's crypto instead.
func checkCryptoBackend(log *slog.Logger) error {
	backend, err := keys.CryptoBackend()
	if err != nil {
		log.Error("crypto backend unavailable", "error", err)
		return err
	}
	b := readBuildInfo()
	log.Info("crypto backend", "backend", backend.Name, "detail", backend.Detail, "version", b.Version, "commit", b.Commit, "go", b.Go)
	return nil
}
