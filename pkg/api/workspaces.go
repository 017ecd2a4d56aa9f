package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/workspace"
)

type settingsJSON struct {
	TimeZone              string `json:"time_zone"`
	CampaignsNeedApproval bool   `json:"campaigns_need_approval"`
	ApproverUserID        string `json:"approver_user_id"`
	EmailProvider         string `json:"email_provider"`
	PhoneRegion           string `json:"phone_region"`
	QuietStart            string `json:"quiet_start"`
	QuietEnd              string `json:"quiet_end"`
}

type workspaceJSON struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Settings  settingsJSON `json:"settings"`
}

func toJSON(w workspace.Workspace) workspaceJSON {
	return workspaceJSON{ID: w.ID, Name: w.Name, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Settings: settingsJSON{
		TimeZone: w.Settings.TimeZone, CampaignsNeedApproval: w.Settings.CampaignsNeedApproval,
		ApproverUserID: w.Settings.ApproverUserID, EmailProvider: w.Settings.EmailProvider, PhoneRegion: w.Settings.PhoneRegion,
		QuietStart: w.Settings.QuietStart, QuietEnd: w.Settings.QuietEnd}}
}

func (h *Handler) workspaceList(w http.ResponseWriter, r *http.Request) {
	list, err := h.workspaces.List(r.Context(), actorFrom(r.Context()))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]workspaceJSON, len(list))
	for i, ws := range list {
		out[i] = toJSON(ws)
	}
	// A user has a handful of workspaces: one page, but the shape of every
	// other list, as the README says.
	ok(w, http.StatusOK, map[string]any{"items": out, "next": ""})
}

func (h *Handler) workspaceGet(w http.ResponseWriter, r *http.Request) {
	ws, err := h.workspaces.Get(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, toJSON(ws))
}

// workspaceInput is the body of POST and PATCH: absent fields stay as they
// are (PATCH) or take defaults (POST).
type workspaceInput struct {
	Name     *string `json:"name"`
	Settings *struct {
		TimeZone              *string `json:"time_zone"`
		CampaignsNeedApproval *bool   `json:"campaigns_need_approval"`
		ApproverUserID        *string `json:"approver_user_id"`
		EmailProvider         *string `json:"email_provider"`
		PhoneRegion           *string `json:"phone_region"`
		QuietStart            *string `json:"quiet_start"`
		QuietEnd              *string `json:"quiet_end"`
	} `json:"settings"`
}

func (in workspaceInput) change() workspace.Change {
	ch := workspace.Change{Name: in.Name}
	if s := in.Settings; s != nil {
		ch.TimeZone, ch.CampaignsNeedApproval, ch.ApproverUserID, ch.EmailProvider, ch.PhoneRegion = s.TimeZone, s.CampaignsNeedApproval, s.ApproverUserID, s.EmailProvider, s.PhoneRegion
		ch.QuietStart, ch.QuietEnd = s.QuietStart, s.QuietEnd
	}
	return ch
}

func (h *Handler) workspaceCreate(w http.ResponseWriter, r *http.Request) {
	var in workspaceInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	ws, err := h.workspaces.Create(r.Context(), actorFrom(r.Context()), in.change())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/workspaces/"+ws.ID)
	ok(w, http.StatusCreated, toJSON(ws))
}

func (h *Handler) workspaceUpdate(w http.ResponseWriter, r *http.Request) {
	var in workspaceInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	ws, err := h.workspaces.Update(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), in.change())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, toJSON(ws))
}

// workspaceDelete deletes a workspace. The UI asks the user to type the
// name; an API client has already chosen the id, so the name is taken as
// the confirmation.
func (h *Handler) workspaceDelete(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r.Context())
	ws, err := h.workspaces.Get(r.Context(), a, chi.URLParam(r, "ws"))
	if err == nil {
		err = h.workspaces.Delete(r.Context(), a, ws.ID, ws.Name)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]string{"id": ws.ID, "deleted": "true"})
}
