package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/images"
)

type imagesData struct {
	Images    []imageView
	MaxMB     int
	Positions []string
}

type imageView struct {
	images.Image
	URL string
}

func (s *Server) renderImages(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string, msg string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	list, err := s.Images.List(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := imagesData{MaxMB: images.MaxInputBytes >> 20, Positions: images.Positions}
	for _, im := range list {
		d.Images = append(d.Images, imageView{Image: im, URL: images.URL(ws.ID, im.ID)})
	}
	if form == nil {
		form = map[string]string{"position": "bottom", "size": "6", "color": "#ffffff", "band_color": "#000000", "band": "1"}
	}
	p := s.pageFor(r, "Images", &page{Section: "images", Data: d, Form: form, Errors: fieldErrs, Error: msg})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "images", "", p)
}

func (s *Server) imagesShow(w http.ResponseWriter, r *http.Request) {
	s.renderImages(w, r, http.StatusOK, nil, nil, "")
}

// wantsJSON reports whether the caller is the editor's script, which asks
// for JSON, rather than a plain form.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// imageAnswer answers an image action: JSON for the editor, else back to
// the gallery with a flash, or the gallery with the error and the form.
func (s *Server) imageAnswer(w http.ResponseWriter, r *http.Request, im images.Image, err error, done string) {
	ws, _ := workspaceFrom(r.Context())
	if errs.KindOf(err) == errs.NotFound || (err != nil && errs.KindOf(err) != errs.Invalid) {
		if wantsJSON(r) && errs.KindOf(err) != errs.NotFound {
			s.Log.Error("image", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "The image was not saved. Try again."})
			return
		}
		s.fail(w, r, err)
		return
	}
	if err != nil {
		e := errs.As(err)
		msg := e.Message
		if len(e.Fields) > 0 {
			msg = "The caption was not drawn: correct the highlighted fields."
		}
		if wantsJSON(r) {
			if len(e.Fields) > 0 {
				msg = e.Error()
			}
			writeJSON(w, statusOfErr(err), map[string]string{"error": msg})
			return
		}
		s.renderImages(w, r, statusOfErr(err), formOf(r, "url", "text", "position", "size", "color", "band", "band_color", "image_id"), e.Fields, msg)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusCreated, map[string]any{"id": im.ID, "url": images.URL(ws.ID, im.ID), "alt": im.Caption, "width": im.Width, "height": im.Height})
		return
	}
	s.flash(w, r, done)
	seeOther(w, r, "/w/"+ws.ID+"/images")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// imageAdd takes an uploaded file (field "image") or a URL to fetch
// (field "url").
func (s *Server) imageAdd(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	var im images.Image
	var err error
	if f, hdr, ferr := r.FormFile("image"); ferr == nil {
		defer f.Close()
		var b []byte
		if b, err = io.ReadAll(io.LimitReader(f, images.MaxInputBytes+1)); err == nil {
			im, err = s.Images.Upload(r.Context(), a, ws.ID, hdr.Filename, b)
		}
	} else if u := strings.TrimSpace(r.PostFormValue("url")); u != "" {
		im, err = s.Images.FromURL(r.Context(), a, ws.ID, u)
	} else {
		err = errs.New(errs.Invalid, "Choose an image file, or give an image's web address.")
	}
	s.imageAnswer(w, r, im, err, "Image added.")
}

func (s *Server) imageCaption(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	size, _ := strconv.Atoi(r.PostFormValue("size"))
	c := images.Caption{Text: r.PostFormValue("text"), Position: r.PostFormValue("position"), Size: size, Color: r.PostFormValue("color"),
		Band: r.PostFormValue("band") != "", BandColor: r.PostFormValue("band_color")}
	im, err := s.Images.AddCaption(r.Context(), a, ws.ID, chi.URLParam(r, "img"), c)
	s.imageAnswer(w, r, im, err, "Caption drawn: the captioned image is first below.")
}

func (s *Server) imageDelete(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	if err := s.Images.Delete(r.Context(), a, ws.ID, chi.URLParam(r, "img")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Image deleted.")
	seeOther(w, r, "/w/"+ws.ID+"/images")
}

// imageServe sends the stored bytes. An image id never changes what it
// holds (a caption makes a new one), so the browser may keep it.
func (s *Server) imageServe(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	im, data, err := s.Images.Data(r.Context(), a, ws.ID, chi.URLParam(r, "img"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", im.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("Content-Security-Policy", "default-src 'none'")
	_, _ = w.Write(data)
}
