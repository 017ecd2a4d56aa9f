package emailtemplate

import (
	"regexp"
)

// imageRef is one of the appliance's images in a rendered message.
var imageRef = regexp.MustCompile(`src="/w/([0-9a-f-]+)/images/([0-9a-f-]+)"`)

// CID is the Content-ID an image goes out under, inside the message.
func CID(imageID string) string { return "img-" + imageID + "@pi-crm" }

// Inline points the images of workspace wsID that a rendered message
// shows at inline parts (src="cid:…"), since recipients cannot reach the
// appliance on the LAN, and returns the image ids to attach, each once, in
// order. An image of another workspace is dropped from the message (its
// src removed), never fetched for it.
func Inline(html, wsID string) (string, []string) {
	var ids []string
	seen := map[string]bool{}
	out := imageRef.ReplaceAllStringFunc(html, func(m string) string {
		sub := imageRef.FindStringSubmatch(m)
		if sub[1] != wsID {
			return `src=""`
		}
		if !seen[sub[2]] {
			seen[sub[2]] = true
			ids = append(ids, sub[2])
		}
		return `src="cid:` + CID(sub[2]) + `"`
	})
	return out, ids
}
