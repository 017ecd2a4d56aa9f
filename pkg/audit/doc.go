// Package audit owns the audit trail: one row per mutation and per log-in
// attempt, written by the capability in the same transaction as the change,
// and the paged listing of a user's own trail.
package audit
