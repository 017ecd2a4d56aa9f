package images

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// ref finds an image of the appliance in a body: src="/w/WS/images/ID".
var ref = regexp.MustCompile(`src="/w/([0-9a-f-]+)/images/([0-9a-f-]+)"`)

// Refs replaces every src that shows one of the appliance's images in
// html with what fn returns for its workspace and id: a new src="..."
// attribute (as written: fn escapes what it puts there).
func Refs(html string, fn func(wsID, id string) string) string {
	if !strings.Contains(html, `src="/w/`) {
		return html // most mail has none: no regexp pass (crm-sender's hot path)
	}
	return ref.ReplaceAllStringFunc(html, func(m string) string {
		sub := ref.FindStringSubmatch(m)
		return fn(sub[1], sub[2])
	})
}

// CopyInto copies the images of workspace fromWS that html shows into
// workspace toWS, inside the caller's transaction, and returns html with
// its references pointing at the copies: a template copied, saved from a
// share or pushed from Favorites keeps its pictures although the other
// workspace (or user) cannot see the first one's. The caller has checked
// that the actor may read the template html comes from; a reference to
// a workspace other than fromWS, or to an image that is gone, is left as
// it is (it shows broken, as it did before).
func CopyInto(conn *sqlite.Conn, fromWS, toWS, html string) (string, error) {
	if fromWS == toWS {
		return html, nil
	}
	copied := map[string]string{}
	var ferr error
	out := Refs(html, func(ws, imgID string) string {
		m := `src="` + URL(ws, imgID) + `"`
		if ferr != nil || ws != fromWS {
			return m
		}
		if id, ok := copied[imgID]; ok {
			return `src="` + URL(toWS, id) + `"`
		}
		im, data, err := load(conn, fromWS, imgID)
		if err != nil {
			return m
		}
		from := im.ID
		im.ID, im.WorkspaceID, im.CreatedAt = store.NewID(), toWS, time.Now().UTC()
		if err := insert(conn, im, data); err != nil {
			ferr = fmt.Errorf("copy image %s: %w", from, err)
			return m
		}
		copied[imgID] = im.ID
		return `src="` + URL(toWS, im.ID) + `"`
	})
	return out, ferr
}
