// Package transfer moves contacts in and out of the appliance: import jobs
// (upload, column mapping, preview, a run on the job queue in crash-safe
// batches fenced on the claim, with an error report) and exports (CSV, vCard, and the emergency export
// of everything a user has, zipped).
package transfer
