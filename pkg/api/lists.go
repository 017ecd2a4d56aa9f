package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/list"
)

func (h *Handler) listAll(w http.ResponseWriter, r *http.Request) {
	var out []listJSON
	for _, k := range []list.Kind{list.Stage, list.Tag} {
		ls, err := h.lists.All(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), k)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, l := range ls {
			out = append(out, listJSON{ID: l.ID, Kind: string(l.Kind), Name: l.Name, Position: l.Position})
		}
	}
	if out == nil {
		out = []listJSON{}
	}
	ok(w, http.StatusOK, map[string]any{"items": out, "next": ""})
}

func (h *Handler) listCreate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	l, err := h.lists.Create(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), list.Kind(in.Kind), in.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, listJSON{ID: l.ID, Kind: string(l.Kind), Name: l.Name, Position: l.Position})
}

func (h *Handler) listRename(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.lists.Rename(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "list"), in.Name); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"id": chi.URLParam(r, "list"), "name": in.Name})
}

func (h *Handler) listDelete(w http.ResponseWriter, r *http.Request) {
	if err := h.lists.Delete(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "list")); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"id": chi.URLParam(r, "list"), "deleted": true})
}
