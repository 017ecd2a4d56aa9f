package daemon

import (
	"os"
	"runtime/pprof"
)

// CPUProfile starts a CPU profile into the file PICRM_CPUPROFILE names, a
// developer's aid (make bench PROFILE=dir sets it for the daemons it
// runs), and returns what stops it; unset, it does nothing. A file that
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
	}
}
