package images

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Image is one stored picture, without its bytes.
type Image struct {
	ID            string    `json:"id"`
	WorkspaceID   string    `json:"workspace_id"`
	Name          string    `json:"name"`
	ContentType   string    `json:"content_type"`
	Width         int       `json:"width"`
	Height        int       `json:"height"`
	Bytes         int       `json:"bytes"`
	SourceURL     string    `json:"source_url,omitempty"`
	CaptionedFrom string    `json:"captioned_from,omitempty"`
	Caption       string    `json:"caption,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// URL is where the appliance serves image id of workspace wsID; template
// bodies refer to images by it, and the sender turns it into an inline
// part.
func URL(wsID, id string) string { return "/w/" + wsID + "/images/" + id }

// Store keeps images.
type Store struct {
	db    *store.DB
	fetch *Fetcher
	now   func() time.Time
}

// NewStore returns the image store over db, fetching URLs with f (nil: a
// Fetcher of the public internet).
func NewStore(db *store.DB, f *Fetcher) *Store {
	if f == nil {
		f = &Fetcher{}
	}
	return &Store{db: db, fetch: f, now: time.Now}
}

var errNotFound = errs.NotFoundf("No such image.")

const columns = `id, workspace_id, name, content_type, width, height, bytes, source_url, captioned_from, caption, created_at`

func scan(st *sqlite.Stmt) Image {
	im := Image{ID: st.ColumnText(0), WorkspaceID: st.ColumnText(1), Name: st.ColumnText(2), ContentType: st.ColumnText(3),
		Width: st.ColumnInt(4), Height: st.ColumnInt(5), Bytes: st.ColumnInt(6), SourceURL: st.ColumnText(7),
		CaptionedFrom: st.ColumnText(8), Caption: st.ColumnText(9)}
	im.CreatedAt, _ = store.ParseTime(st.ColumnText(10))
	return im
}

// cleanName keeps a file name short and printable, for the gallery.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return -1
		}
		return r
	}, path.Base(strings.ReplaceAll(name, `\`, "/")))
	if name == "." || name == "/" {
		name = ""
	}
	if utf8.RuneCountInString(name) > 100 {
		name = string([]rune(name)[:100])
	}
	return name
}

// Upload stores the image file b (named name) in the actor's workspace
// wsID, cleaned by Sanitize.
func (s *Store) Upload(ctx context.Context, actor auth.Actor, wsID, name string, b []byte) (Image, error) {
	c, err := Sanitize(b)
	if err != nil {
		return Image{}, err
	}
	return s.add(ctx, actor, wsID, Image{Name: cleanName(name)}, c, "image.upload")
}

// FromURL fetches the image at u from the public internet and stores it as
// Upload does.
func (s *Store) FromURL(ctx context.Context, actor auth.Actor, wsID, u string) (Image, error) {
	// The workspace is checked before anything is fetched on its behalf.
	if err := s.db.Read(ctx, func(conn *sqlite.Conn) error { return workspace.Owned(conn, actor, wsID) }); err != nil {
		return Image{}, err
	}
	b, err := s.fetch.Fetch(ctx, u)
	if err != nil {
		return Image{}, err
	}
	c, err := Sanitize(b)
	if err != nil {
		return Image{}, err
	}
	return s.add(ctx, actor, wsID, Image{Name: cleanName(path.Base(strings.SplitN(u, "?", 2)[0])), SourceURL: u}, c, "image.fetch")
}

func (s *Store) add(ctx context.Context, actor auth.Actor, wsID string, im Image, c Clean, action string) (Image, error) {
	im.ID, im.WorkspaceID, im.ContentType, im.Width, im.Height, im.Bytes, im.CreatedAt = store.NewID(), wsID, c.ContentType, c.Width, c.Height, len(c.Data), s.now().UTC()
	err := workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := insert(conn, im, c.Data); err != nil {
			return err
		}
		details := map[string]any{"workspace_id": wsID, "bytes": im.Bytes, "width": im.Width, "height": im.Height}
		if im.SourceURL != "" {
			details["url"] = im.SourceURL
		}
		if im.CaptionedFrom != "" {
			details["from"] = im.CaptionedFrom
		}
		return audit.Record(conn, actor.Audit(action, "image", im.ID, details))
	})
	if err != nil {
		return Image{}, err
	}
	return im, nil
}

// insert writes im with its bytes data.
func insert(conn *sqlite.Conn, im Image, data []byte) error {
	if err := sqlitex.Execute(conn, `INSERT INTO images (`+columns+`, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, &sqlitex.ExecOptions{
		Args: []any{im.ID, im.WorkspaceID, im.Name, im.ContentType, im.Width, im.Height, im.Bytes, im.SourceURL, im.CaptionedFrom, im.Caption,
			store.FormatTime(im.CreatedAt), data}}); err != nil {
		return fmt.Errorf("insert image: %w", err)
	}
	return nil
}

// List returns the images of the actor's workspace wsID, newest first.
func (s *Store) List(ctx context.Context, actor auth.Actor, wsID string) ([]Image, error) {
	var out []Image
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT `+columns+` FROM images WHERE workspace_id = ? ORDER BY created_at DESC, id DESC`,
			&sqlitex.ExecOptions{Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error { out = append(out, scan(st)); return nil }})
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// Data returns image id of the actor's workspace wsID with its bytes.
func (s *Store) Data(ctx context.Context, actor auth.Actor, wsID, id string) (Image, []byte, error) {
	var im Image
	var data []byte
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		im, data, err = load(conn, wsID, id)
		return err
	})
	return im, data, err
}

// DataIn returns image id of workspace wsID with its bytes, inside the
// caller's transaction: for the sender, which has already scoped the
// message to its workspace.
func DataIn(conn *sqlite.Conn, wsID, id string) (Image, []byte, error) { return load(conn, wsID, id) }

func load(conn *sqlite.Conn, wsID, id string) (Image, []byte, error) {
	var im Image
	var data []byte
	found := false
	err := sqlitex.Execute(conn, `SELECT `+columns+`, data FROM images WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{
		Args: []any{id, wsID}, ResultFunc: func(st *sqlite.Stmt) error {
			im, found = scan(st), true
			data = make([]byte, st.ColumnLen(11))
			st.ColumnBytes(11, data)
			return nil
		}})
	if err != nil {
		return im, nil, fmt.Errorf("load image: %w", err)
	}
	if !found {
		return im, nil, errNotFound
	}
	return im, data, nil
}

// AddCaption draws c on image id and stores the result as a new image
// (the original stays, to caption again).
func (s *Store) AddCaption(ctx context.Context, actor auth.Actor, wsID, id string, c Caption) (Image, error) {
	src, data, err := s.Data(ctx, actor, wsID, id)
	if err != nil {
		return Image{}, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Image{}, fmt.Errorf("caption image %s: decode: %w", id, err)
	}
	out, err := c.Draw(img)
	if err != nil {
		return Image{}, err
	}
	clean, err := encode(out, src.ContentType == "image/png" && !opaque(img))
	if err != nil {
		return Image{}, err
	}
	return s.add(ctx, actor, wsID, Image{Name: src.Name, CaptionedFrom: src.ID, Caption: strings.TrimSpace(c.Text)}, clean, "image.caption")
}

// Delete removes image id. A template that still shows it shows a broken
// image; the gallery says where it is used before this is called.
func (s *Store) Delete(ctx context.Context, actor auth.Actor, wsID, id string) error {
	return workspace.Write(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		if _, _, err := load(conn, wsID, id); err != nil {
			return err
		}
		if err := sqlitex.Execute(conn, `DELETE FROM images WHERE id = ? AND workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{id, wsID}}); err != nil {
			return fmt.Errorf("delete image: %w", err)
		}
		return audit.Record(conn, actor.Audit("image.delete", "image", id, map[string]any{"workspace_id": wsID}))
	})
}
