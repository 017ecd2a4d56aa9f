package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
)

func (h *Handler) templateList(w http.ResponseWriter, r *http.Request) {
	list, err := h.templates.List(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []emailtemplate.Template{}
	}
	ok(w, http.StatusOK, map[string]any{"items": list, "next": ""})
}

func (h *Handler) templateCreate(w http.ResponseWriter, r *http.Request) {
	var in emailtemplate.Change
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	t, err := h.templates.Create(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, t)
}

func (h *Handler) templateGet(w http.ResponseWriter, r *http.Request) {
	t, err := h.templates.Get(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "tpl"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, t)
}

// templateUpdate replaces the whole template (PUT): a part left out is
// emptied, and the checks say so.
func (h *Handler) templateUpdate(w http.ResponseWriter, r *http.Request) {
	var in emailtemplate.Change
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	t, err := h.templates.Update(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "tpl"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, t)
}

func (h *Handler) templateDelete(w http.ResponseWriter, r *http.Request) {
	if err := h.templates.Delete(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "tpl")); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"id": chi.URLParam(r, "tpl"), "deleted": true})
}

func (h *Handler) templateCopy(w http.ResponseWriter, r *http.Request) {
	var in struct {
		WorkspaceID string `json:"workspace_id"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	ws := chi.URLParam(r, "ws")
	if in.WorkspaceID == "" {
		in.WorkspaceID = ws
	}
	t, err := h.templates.Copy(r.Context(), actorFrom(r.Context()), ws, chi.URLParam(r, "tpl"), in.WorkspaceID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, t)
}

// templatePreview renders the template for ?contact= (or the newest
// contact), as the preview page does.
func (h *Handler) templatePreview(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r.Context())
	p, err := h.templates.Preview(r.Context(), a, chi.URLParam(r, "ws"), chi.URLParam(r, "tpl"), r.URL.Query().Get("contact"), "",
		emailtemplate.Sender{Name: a.Name, Email: a.Email})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	problems := []map[string]any{}
	for _, pr := range p.Email.Problems {
		problems = append(problems, map[string]any{"source": pr.Source, "line": pr.Pos.Line, "column": pr.Pos.Col, "message": pr.Message})
	}
	ok(w, http.StatusOK, map[string]any{"contact_id": p.Contact.ID, "subject": p.Email.Subject, "preheader": p.Email.Preheader,
		"html": p.Email.HTML, "text": p.Email.Text, "bytes": p.Email.Size(), "clipped_by_gmail": p.Email.Clipped(), "problems": problems})
}
