package backup

import (
	"context"
	"time"

	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/jobs"
)

// Kind returns the job kind that runs queued snapshot runs with s,
// recording each run's progress and outcome in runs; progress and done,
// when set, hear of them too (crmctl prints them). A snapshot that fails
// fails its run at once: the next night's timer is the retry.
func (s *Snapshotter) Kind(runs *ledger.Runs, progress Progress, done func(Result, error)) jobs.Kind {
	return jobs.Kind{Name: ledger.KindSnapshot, Lease: 2 * time.Minute, MaxAttempts: 2, Failed: ledger.Failed,
		Run: func(ctx context.Context, c *jobs.Claim) error {
			if err := runs.Begin(ctx, c); err != nil {
				return err
			}
			record := runs.Progress(ctx, c.Ref)
			res, err := s.Snapshot(ctx, func(step string, pct int) {
				record(step, pct)
				if progress != nil {
					progress(step, pct)
				}
			})
			if ctx.Err() != nil {
				return ctx.Err() // the runner stops: the run goes back in the queue
			}
			if ferr := runs.Finish(context.WithoutCancel(ctx), c.Ref, res.Outcome(), err); ferr != nil && err == nil {
				err = ferr
			}
			if done != nil {
				done(res, err)
			}
			return jobs.Permanent(err)
		}}
}
