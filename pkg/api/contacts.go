package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
)

// contactInput is the body of POST and PATCH on contacts.
type contactInput struct {
	contact.Fields
	OnDuplicate string `json:"on_duplicate"` // "" (refuse) or "keep_separate"
}

func (in contactInput) keepSeparate() (bool, error) {
	switch in.OnDuplicate {
	case "", "refuse":
		return false, nil
	case "keep_separate":
		return true, nil
	}
	return false, errs.Fields{"on_duplicate": `Use "keep_separate" or leave it out.`}.Err()
}

func (h *Handler) contactList(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := contact.Query{Search: v.Get("q"), StageID: v.Get("stage"), TagIDs: v["tag"], Sort: v.Get("sort"), Asc: v.Get("order") == "asc", After: v.Get("after")}
	for _, c := range v["custom"] {
		fid, val, found := strings.Cut(c, ":")
		if !found {
			h.fail(w, r, errs.Fields{"custom": "Filter custom fields as custom=<field id>:<value>."}.Err())
			return
		}
		if q.Custom == nil {
			q.Custom = map[string]string{}
		}
		q.Custom[fid] = val
	}
	var err error
	if s := v.Get("stale_days"); s != "" {
		if q.StaleDays, err = strconv.Atoi(s); err != nil || q.StaleDays < 0 {
			h.fail(w, r, errs.Fields{"stale_days": "Use a whole number of days."}.Err())
			return
		}
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 || q.Limit > 200 {
			h.fail(w, r, errs.Fields{"limit": "Use a number from 1 to 200."}.Err())
			return
		}
	}
	p, err := h.contacts.List(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if p.Rows == nil {
		p.Rows = []contact.Row{}
	}
	ok(w, http.StatusOK, map[string]any{"items": p.Rows, "next": p.Next})
}

func (h *Handler) contactCreate(w http.ResponseWriter, r *http.Request) {
	var in contactInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	keep, err := in.keepSeparate()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ws := chi.URLParam(r, "ws")
	c, err := h.contacts.Create(r.Context(), actorFrom(r.Context()), ws, in.Fields, keep)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+ws+"/contacts/"+c.ID)
	ok(w, http.StatusCreated, c)
}

func (h *Handler) contactGet(w http.ResponseWriter, r *http.Request) {
	c, err := h.contacts.Get(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, c)
}

func (h *Handler) contactUpdate(w http.ResponseWriter, r *http.Request) {
	var in contactInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	keep, err := in.keepSeparate()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.contacts.Update(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"), in.Fields, keep)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, c)
}

func (h *Handler) contactDelete(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "contact")
	if err := h.contacts.Delete(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"id": id, "deleted": true})
}

type mergeInput struct {
	SourceID string `json:"source_id"`
	contact.MergeChoice
}

func (h *Handler) contactMerge(w http.ResponseWriter, r *http.Request) {
	var in mergeInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.contacts.Merge(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"), in.SourceID, in.MergeChoice)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, c)
}

type entryJSON struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	OccurredAt time.Time `json:"occurred_at"`
	Summary    string    `json:"summary"`
	Body       any       `json:"body"`
}

func entries(list []activity.Entry) []entryJSON {
	out := make([]entryJSON, len(list))
	for i, e := range list {
		out[i] = entryJSON{ID: e.ID, Kind: string(e.Kind), OccurredAt: e.OccurredAt, Summary: e.Summary, Body: e.Body}
	}
	return out
}

func (h *Handler) contactLog(w http.ResponseWriter, r *http.Request) {
	p, err := h.contacts.Log(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"),
		activity.TabByKey(r.URL.Query().Get("tab")), r.URL.Query().Get("after"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"items": entries(p.Entries), "next": p.Next})
}

func (h *Handler) contactNote(w http.ResponseWriter, r *http.Request) {
	var in struct {
		HTML string `json:"html"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.contacts.AddNote(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"), in.HTML); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, map[string]any{"logged": true})
}

func (h *Handler) contactCall(w http.ResponseWriter, r *http.Request) {
	var in struct {
		At              *time.Time `json:"at"`
		DurationSeconds int        `json:"duration_seconds"`
		Notes           string     `json:"notes"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	at := time.Now()
	if in.At != nil {
		at = *in.At
	}
	if err := h.contacts.AddCall(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"), at, time.Duration(in.DurationSeconds)*time.Second, in.Notes); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, map[string]any{"logged": true})
}

func (h *Handler) contactTag(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.contacts.SetTag(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"), chi.URLParam(r, "list"), add); err != nil {
			h.fail(w, r, err)
			return
		}
		ok(w, http.StatusOK, map[string]any{"tagged": add})
	}
}

func (h *Handler) contactShare(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ViewerID string `json:"viewer_id"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.contacts.ShareWith(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"), in.ViewerID); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"shared_with": in.ViewerID})
}

func (h *Handler) contactUnshare(w http.ResponseWriter, r *http.Request) {
	if err := h.contacts.Unshare(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "contact"), chi.URLParam(r, "user")); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"unshared": chi.URLParam(r, "user")})
}

// sharedJSON is a contact shared with the caller: contact.SharedContact,
// the same view the read-only page shows.
type sharedJSON struct {
	Contact  contact.SharedContact `json:"contact"`
	Owner    string                `json:"owner"`
	SharedAt time.Time             `json:"shared_at"`
	Notes    []entryJSON           `json:"notes,omitempty"`
}

type listJSON struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Position int    `json:"position"`
}

type fieldInput struct {
	contact.FieldDef
	Global bool `json:"global"`
}
