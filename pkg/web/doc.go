// Package web serves pi-crm's server-rendered UI: routing (chi), sessions,
// cross-origin protection, the page handlers and rendering, static assets,
// /healthz and /metrics, and it mounts the JSON API. Handlers parse and check
// input, call one capability function, and render or redirect; they hold no
// SQL and no business rules.
package web
