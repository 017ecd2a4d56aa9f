// Package static embeds the UI's built assets: the CSS Tailwind builds, the
// vendored htmx, our app.js, the bundled editor and the icons. Nothing is
// fetched from a CDN: the UI works offline on the LAN.
package static

import "embed"

// FS holds the assets at the root (`app.css`). A new kind of asset needs its
// pattern added here.
//
//go:embed *.css *.js *.svg
var FS embed.FS
