// Package jobs is pi-crm's one queue for background work: imports and
// snapshot runs now, the outbox, drips and AI jobs next.
//
// A job is a row of the jobs table naming its kind and the kind's own row
// (ref). A Runner claims due rows of the kinds it runs with a lease, renews
// the lease while the job runs, and records the end: done, queued again
// after a backoff, or failed. A lease that runs out (the runner died, hung
// or lost its disk) makes the row claimable again, with Claim.Resumed set;
// every progress write of a kind calls Claim.Fence in its transaction, so
// a stale runner's batch fails whole instead of racing the new runner.
//
// A runner wakes when another connection commits (PRAGMA data_version on a
// connection of its own, a few microseconds a look) or when a known job
// falls due, so a new job is noticed within a Tick at almost no cost idle.
// Enqueue runs inside the caller's transaction: a kind's row and its job
// commit together or not at all.
package jobs
