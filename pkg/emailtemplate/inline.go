package emailtemplate

import "github.com/pi-crm/pi-crm/pkg/images"

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
	out := images.Refs(html, func(ws, id string) string {
		if ws != wsID {
			return `src=""`
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return `src="cid:` + CID(id) + `"`
	})
	return out, ids
}
