package web

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/logkey"
)

func (s *Server) exportShow(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	fields, err := s.Contacts.Fields(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := exportData{Custom: fields, Filter: map[string][]string{}, Selected: len(r.URL.Query()["id"])}
	for _, k := range csvio.DefaultColumns {
		d.Default = append(d.Default, csvio.Column{Key: k, Header: csvio.HeaderOf(k)})
	}
	for _, k := range csvio.OptionalColumns {
		d.Optional = append(d.Optional, csvio.Column{Key: k, Header: csvio.HeaderOf(k)})
	}
	for _, k := range []string{"q", "stage", "tag", "stale_days", "field", "value", "id"} {
		if v := r.URL.Query()[k]; len(v) > 0 {
			d.Filter[k] = v
		}
	}
	s.render(w, r, http.StatusOK, "export", "", s.pageFor(r, "Export contacts", &page{Section: "contacts", Data: d}))
}

// exportDownload streams the chosen contacts as CSV or vCard.
func (s *Server) exportDownload(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	v := r.URL.Query()
	ids := v["id"]
	if len(ids) == 0 && (v.Get("q") != "" || v.Get("stage") != "" || v.Get("tag") != "" || v.Get("stale_days") != "" || v.Get("value") != "") {
		q := contact.Query{Search: v.Get("q"), StageID: v.Get("stage")}
		if t := v.Get("tag"); t != "" {
			q.TagIDs = []string{t}
		}
		q.StaleDays, _ = strconv.Atoi(v.Get("stale_days"))
		if fid := v.Get("field"); fid != "" && v.Get("value") != "" {
			q.Custom = map[string]string{fid: v.Get("value")}
		}
		var err error
		if ids, err = s.Contacts.IDs(r.Context(), a, ws.ID, q); err != nil {
			s.fail(w, r, err)
			return
		}
		if ids == nil {
			ids = []string{}
		}
	}
	name := strings.NewReplacer("/", "-", "\\", "-", "\"", "").Replace(ws.Name) + "-" + time.Now().Format("2006-01-02")
	if v.Get("format") == "vcard" {
		out := s.attachment(w, "text/vcard; charset=utf-8", name+".vcf")
		if _, err := s.Exports.VCard(r.Context(), a, ws.ID, ids, out); err != nil {
			s.Log.Error("export", logkey.Err, err)
		}
		return
	}
	cols := v["col"]
	if len(cols) == 0 {
		cols = nil
	}
	fields, err := s.Contacts.Fields(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := csvio.Columns(cols, fields); err != nil {
		s.fail(w, r, errs.New(errs.Invalid, "%s", err.Error()))
		return
	}
	out := s.attachment(w, "text/csv; charset=utf-8", name+".csv")
	if _, err := s.Exports.CSV(r.Context(), a, ws.ID, ids, cols, v.Get("bom") != "", s.zone(a.TimeZone), out); err != nil {
		s.Log.Error("export", logkey.Err, err)
	}
}

// contactVCard downloads one contact as a .vcf.
func (s *Server) contactVCard(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "contact")
	c, err := s.Contacts.Get(r.Context(), a, ws.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := strings.TrimSpace(c.FirstName + " " + c.LastName)
	if name == "" {
		name = "contact"
	}
	out := s.attachment(w, "text/vcard; charset=utf-8", name+".vcf")
	if _, err := s.Exports.VCard(r.Context(), a, ws.ID, []string{id}, out); err != nil {
		s.Log.Error("vcard", logkey.Err, err)
	}
}

// exportAll downloads the emergency export: every workspace, zipped.
func (s *Server) exportAll(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	out := s.attachment(w, "application/zip", "pi-crm-export-"+time.Now().Format("2006-01-02")+".zip")
	if _, err := s.Exports.All(r.Context(), a, s.zone(a.TimeZone), out); err != nil {
		s.Log.Error("emergency export", logkey.Err, err)
	}
}

// attachment starts a download of a file named name and returns the
// writer to stream it to, which keeps the download's deadline moving.
func (s *Server) attachment(w http.ResponseWriter, contentType, name string) io.Writer {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	return newStreamWriter(w, s.streamSlack())
}
