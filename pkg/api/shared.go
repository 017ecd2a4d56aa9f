package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func (h *Handler) sharedList(w http.ResponseWriter, r *http.Request) {
	list, err := h.contacts.SharedWithMe(r.Context(), actorFrom(r.Context()))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]sharedJSON, len(list))
	for i, s := range list {
		out[i] = sharedJSON{Contact: s.Contact, Owner: s.OwnerName, SharedAt: s.SharedAt}
	}
	ok(w, http.StatusOK, map[string]any{"items": out, "next": ""})
}

func (h *Handler) sharedGet(w http.ResponseWriter, r *http.Request) {
	s, err := h.contacts.GetShared(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "contact"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, sharedJSON{Contact: s.Contact, Owner: s.OwnerName, SharedAt: s.SharedAt, Notes: entries(s.Notes)})
}

func (h *Handler) sharedSaveAs(w http.ResponseWriter, r *http.Request) {
	var in struct {
		WorkspaceID string `json:"workspace_id"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.contacts.SaveAs(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "contact"), in.WorkspaceID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, c)
}
