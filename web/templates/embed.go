// Package templates embeds the UI's html/template pages, layout and
// partials, so every binary carries its own UI and needs no files beside it.
package templates

import "embed"

// FS holds every page (`contacts.html`), the layout (`layout.html`) and the
// partials (`_*.html`), at the root.
//
//go:embed *.html
var FS embed.FS
