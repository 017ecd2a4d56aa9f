package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/campaign"
)

// segmentJSON is a saved segment as the API shows it.
type segmentJSON struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Segment   campaign.Segment `json:"segment"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

func segmentOut(sg campaign.Saved) segmentJSON {
	return segmentJSON{ID: sg.ID, Name: sg.Name, Segment: sg.Segment, CreatedAt: sg.CreatedAt, UpdatedAt: sg.UpdatedAt}
}

// segmentInput is what a create or a (whole) update takes.
type segmentInput struct {
	Name    string           `json:"name"`
	Segment campaign.Segment `json:"segment"`
}

func (h *Handler) segmentList(w http.ResponseWriter, r *http.Request) {
	all, err := h.campaigns.Segments(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items := make([]segmentJSON, 0, len(all))
	for _, sg := range all {
		items = append(items, segmentOut(sg))
	}
	ok(w, http.StatusOK, map[string]any{"items": items, "next": ""})
}

func (h *Handler) segmentGet(w http.ResponseWriter, r *http.Request) {
	sg, err := h.campaigns.Segment(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "segment"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, segmentOut(sg))
}

// segmentSave creates a segment, or replaces the one the path names.
func (h *Handler) segmentSave(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in segmentInput
		if err := decode(r, &in); err != nil {
			h.fail(w, r, err)
			return
		}
		a, ws := actorFrom(r.Context()), chi.URLParam(r, "ws")
		var sg campaign.Saved
		var err error
		status := http.StatusOK
		if create {
			sg, err = h.campaigns.CreateSegment(r.Context(), a, ws, in.Name, in.Segment)
			status = http.StatusCreated
		} else {
			sg, err = h.campaigns.UpdateSegment(r.Context(), a, ws, chi.URLParam(r, "segment"), in.Name, in.Segment)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ok(w, status, segmentOut(sg))
	}
}

func (h *Handler) segmentDelete(w http.ResponseWriter, r *http.Request) {
	if err := h.campaigns.DeleteSegment(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "segment")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) segmentMembers(w http.ResponseWriter, r *http.Request) {
	rs, err := h.campaigns.SegmentMembers(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "segment"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"items": recipientsOut(rs), "next": ""})
}
