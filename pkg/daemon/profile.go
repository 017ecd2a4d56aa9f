package daemon

import (
	"os"
	"runtime/pprof"
	"strings"
)

// CPUProfile starts a CPU profile into the file PICRM_CPUPROFILE names, a
// developer's aid (make bench PROFILE=dir sets it for the daemons it
// runs), and returns what stops it, which also writes the heap profile
// (allocations since the start, and what is live) beside it, its name
// ending .heap instead of .prof; unset, it does nothing. A file that
// cannot be made means no profile, never a failed start.
func CPUProfile() (stop func()) {
	p := os.Getenv("PICRM_CPUPROFILE")
	if p == "" {
		return func() {}
	}
	f, err := os.Create(p)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		if h, err := os.Create(strings.TrimSuffix(p, ".prof") + ".heap"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(h, 0)
			_ = h.Close()
		}
	}
}
