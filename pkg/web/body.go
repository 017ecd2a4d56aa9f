package web

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/images"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

// Request body limits. Every body crm-web accepts is capped before a byte of
// it is parsed: an unauthenticated POST /login must not be able to fill the
// SD card or the memory of a Pi.
const (
	// loginBodyMax holds an email (254 bytes) and a password (1,024) with
	// room for the form's encoding.
	loginBodyMax = 8 << 10
	// formBodyMax is every ordinary form: names, ids, a choice or two.
	formBodyMax = 16 << 10
	// textBodyMax is a form that carries free text (a contact's 20,000
	// character loan-file notes, a note, custom fields) or a mapping of up
	// to csvio.MaxColumns columns: 20,000 characters of 4-byte UTF-8,
	// percent-encoded, is 240 KB.
	textBodyMax = 512 << 10
	// templateBodyMax is an email template's form: a body of up to
	// emailtemplate.MaxBody bytes of HTML, percent-encoded (up to three
	// times as long), with the subject, preheader and signature.
	templateBodyMax = 1 << 20
	// imageBodyMax is an image upload: the file and its form.
	imageBodyMax = images.MaxInputBytes + 64<<10
	// apiBodyMax matches the JSON API's own decoder limit.
	apiBodyMax = 1 << 20
	// uploadBodyMax is the import upload: the file and its form.
	uploadBodyMax = transfer.MaxUploadBytes + 1<<20
)

// bodyRule says how large route pattern's body may be, and whether the
// form is parsed here (streamed uploads and JSON are read by their
// handlers, within the same limit).
func bodyRule(pattern string) (limit int64, parse bool) {
	switch {
	case pattern == "/w/{ws}/import":
		return uploadBodyMax, false
	case pattern == "/w/{ws}/images":
		return imageBodyMax, true
	case strings.HasPrefix(pattern, "/api/"):
		return apiBodyMax, false
	case pattern == "/login":
		return loginBodyMax, true
	case pattern == "/w/{ws}/contacts", pattern == "/w/{ws}/contacts/{contact}/",
		strings.HasPrefix(pattern, "/w/{ws}/contacts/{contact}/") && (strings.HasSuffix(pattern, "/notes") || strings.HasSuffix(pattern, "/calls") || strings.HasSuffix(pattern, "/custom")),
		strings.HasPrefix(pattern, "/w/{ws}/fields"), strings.HasPrefix(pattern, "/w/{ws}/import/"), pattern == "/w/{ws}/contacts/bulk":
		return textBodyMax, true
	case strings.HasPrefix(pattern, "/w/{ws}/templates"):
		return templateBodyMax, true
	}
	return formBodyMax, true
}

// limitBodies caps every request body by its route (bodyRule) and parses
// forms here, on the request the server made, before any middleware makes
// a copy of it. Go's server removes the temporary files of a multipart form
// only when they hang off its own request (golang/go#58809): a form parsed
// on a copy made by r.WithContext leaves them in $TMPDIR forever. Parsing
// here with a memory allowance as large as the body limit keeps every part
// in memory, and the deferred RemoveAll covers any file all the same.
// A body over its limit answers 413 with a page that says so.
func (s *Server) limitBodies(router *chi.Mux) http.Handler {
	return limited{Mux: router, h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			router.ServeHTTP(w, r)
			return
		}
		limit, parse := bodyRule(router.Find(chi.NewRouteContext(), r.Method, r.URL.Path))
		if r.ContentLength > limit {
			s.tooLarge(w, r, limit)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if limit == uploadBodyMax {
			extendRequest(w, s.uploadTimeout())
		}
		if parse {
			var err error
			ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if ct == "multipart/form-data" {
				err = r.ParseMultipartForm(limit)
				if r.MultipartForm != nil {
					defer r.MultipartForm.RemoveAll()
				}
			} else {
				err = r.ParseForm()
			}
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				s.tooLarge(w, r, limit)
				return
			case err != nil:
				s.render(w, r, http.StatusBadRequest, "error", "", &page{Title: "Bad request", Error: "The form could not be read; reload the page and try again."})
				return
			}
		}
		router.ServeHTTP(w, r)
	})}
}

// limited is the router behind limitBodies; it is still a chi.Routes, so
// the route walks see every route.
type limited struct {
	*chi.Mux
	h http.Handler
}

// ServeHTTP serves through the body limits.
func (l limited) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.ServeHTTP(w, r) }

// tooLarge answers 413 with a readable page.
func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	w.Header().Set("Connection", "close")
	s.render(w, r, http.StatusRequestEntityTooLarge, "error", "", &page{Title: "Too large",
		Error: fmt.Sprintf("What was sent is larger than this form takes (%s). Nothing was saved; go back and shorten it.", humanSize(limit))})
}

func humanSize(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", n>>10)
}
