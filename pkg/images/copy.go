package images

import (
	"fmt"
	"regexp"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/store"
)

// ref finds an image of the appliance in a body: src="/w/WS/images/ID".
var ref = regexp.MustCompile(`src="/w/([0-9a-f-]+)/images/([0-9a-f-]+)"`)

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
	out := ref.ReplaceAllStringFunc(html, func(m string) string {
		sub := ref.FindStringSubmatch(m)
		if ferr != nil || sub[1] != fromWS {
			return m
		}
		if id, ok := copied[sub[2]]; ok {
			return `src="` + URL(toWS, id) + `"`
		}
		im, data, err := load(conn, fromWS, sub[2])
		if err != nil {
			return m
		}
		id := store.NewID()
		if err := sqlitex.Execute(conn, `INSERT INTO images (`+columns+`, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, &sqlitex.ExecOptions{
			Args: []any{id, toWS, im.Name, im.ContentType, im.Width, im.Height, im.Bytes, im.SourceURL, im.CaptionedFrom, im.Caption,
				store.FormatTime(time.Now()), data}}); err != nil {
			ferr = fmt.Errorf("copy image %s: %w", im.ID, err)
			return m
		}
		copied[sub[2]] = id
		return `src="` + URL(toWS, id) + `"`
	})
	return out, ferr
}
