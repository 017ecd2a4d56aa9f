package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/contact"
)

func (h *Handler) fieldList(w http.ResponseWriter, r *http.Request) {
	defs, err := h.contacts.Fields(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if defs == nil {
		defs = []contact.FieldDef{}
	}
	ok(w, http.StatusOK, map[string]any{"items": defs, "next": ""})
}

func (h *Handler) fieldCreate(w http.ResponseWriter, r *http.Request) {
	var in fieldInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.contacts.CreateField(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), in.FieldDef, in.Global)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, d)
}

func (h *Handler) fieldUpdate(w http.ResponseWriter, r *http.Request) {
	var in contact.FieldDef
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.contacts.UpdateField(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "field"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, d)
}

func (h *Handler) fieldDelete(w http.ResponseWriter, r *http.Request) {
	n, err := h.contacts.DeleteField(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "field"), r.URL.Query().Get("confirm") == "true")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"id": chi.URLParam(r, "field"), "deleted": true, "values_deleted": n})
}
