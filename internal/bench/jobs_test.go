package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

// cpuTicks returns pid's user+system time in clock ticks (1/100 s).
func cpuTicks(pid int) int {
	u, s := cpuSplit(pid)
	return u + s
}

// cpuSplit returns pid's user and system time in clock ticks (1/100 s),
// -1 when it cannot be read.
func cpuSplit(pid int) (user, system int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1, 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u, s
}

// jobs measures the job runner inside a real crm-web: the share of a core
// it idles at (jobs_idle_cpu_pct, its data_version look every 100 ms with
// the rest of the idle daemon), and how long after another process commits
// a new job crm-web has claimed and started it (jobs_wake_p99_ms, 200
// imports queued at random gaps; the start is seen by polling the job's
// row every millisecond).
func (b *bench) jobs() {
	ns := testrig.NewNotifySocket(b.t)
	c := b.cmd("crm-web", "NOTIFY_SOCKET="+ns.Path)
	if err := c.Start(); err != nil {
		b.t.Fatal(err)
	}
	defer stop(c)
	if !ready(ns) {
		b.t.Fatal("crm-web sent no READY=1")
	}
	time.Sleep(2 * time.Second) // past start-up
	if b.want("jobs_idle_cpu_pct") {
		const idle = 20 * time.Second
		t0 := cpuTicks(c.Process.Pid)
		time.Sleep(idle)
		ticks := cpuTicks(c.Process.Pid) - t0
		b.report("jobs_idle_cpu_pct", float64(ticks)/100/idle.Seconds()*100, "%")
	}
	if !b.want("jobs_wake") {
		return
	}
	svc, actor, ws, closeDB := b.openServices()
	defer closeDB()
	ctx := context.Background()
	var lat []float64
	for i := range 200 {
		j, err := svc.Imports.Upload(ctx, actor, ws, "wake.csv", strings.NewReader(fmt.Sprintf("Name,Email\nWake %d,wake%d@example.com\n", i, i)))
		if err != nil {
			b.t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rand.IntN(180)) * time.Millisecond)
		if err := svc.Imports.Start(ctx, actor, ws, j.ID); err != nil {
			b.t.Fatal(err)
		}
		queued := time.Now()
		for {
			got, err := svc.Imports.GetAny(ctx, j.ID)
			if err != nil {
				b.t.Fatal(err)
			}
			if got.Status != transfer.Queued {
				break
			}
			if time.Since(queued) > 10*time.Second {
				b.t.Fatalf("crm-web did not take import %d within 10 s", i)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, float64(time.Since(queued).Microseconds())/1000)
	}
	b.report("jobs_wake_p99_ms", testrig.Percentile(lat, 0.99), "ms")
	b.report("jobs_wake_p50_ms", testrig.Percentile(lat, 0.5), "ms")
}
