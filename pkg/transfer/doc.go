// Package transfer moves contacts in and out of the appliance: import jobs
// (upload, column mapping, preview, a background run in crash-safe batches
// with an error report) and exports (CSV, vCard, and the emergency export
// of everything a user has, zipped).
package transfer
