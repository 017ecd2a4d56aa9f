// Package web embeds the UI's templates and static assets, so every binary
// carries its own UI and needs no network, CDN or files beside it.
package web

import "embed"

// Templates holds the html/template pages, layouts and partials.
//
//go:embed all:templates
var Templates embed.FS

// Static holds the built CSS, the vendored htmx and the icons.
//
//go:embed static
var Static embed.FS
