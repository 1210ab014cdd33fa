//go:build unix

package keys

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) this process has used,
// so benchmarks can report CPU per operation next to wall time: on a shared
// machine the wall time also counts the waits for a core.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
