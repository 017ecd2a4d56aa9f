package web

import (
	"net/http"

	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

func (s *Server) workspaceNew(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "workspace_new", "", s.pageFor(r, "New workspace", &page{Form: map[string]string{}}))
}

func (s *Server) workspaceCreate(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	form := formOf(r, "name")
	name := form["name"]
	ws, err := s.Workspaces.Create(r.Context(), a, workspace.Change{Name: &name})
	if fe := fieldErrors(err); fe != nil {
		s.render(w, r, statusOfErr(err), "workspace_new", "", s.pageFor(r, "New workspace", &page{Form: form, Errors: fe}))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Workspace “"+ws.Name+"” created.")
	seeOther(w, r, "/w/"+ws.ID)
}

type settingsData struct {
	TimeZones     []string
	Users         []userOption
	ProviderLabel string
}

type userOption struct{ ID, Name string }

// commonTimeZones seeds the time-zone field's suggestions; any IANA name is
// accepted.
var commonTimeZones = []string{"America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago", "America/New_York", "Pacific/Honolulu", "America/Anchorage", "UTC", "Europe/London", "Asia/Ho_Chi_Minh"}

func settingsForm(ws workspace.Workspace) map[string]string {
	f := map[string]string{
		"name": ws.Name, "time_zone": ws.Settings.TimeZone, "approver_user_id": ws.Settings.ApproverUserID,
		"email_provider": ws.Settings.EmailProvider, "phone_region": ws.Settings.PhoneRegion, "real_estate": map[bool]string{true: "1"}[ws.Settings.RealEstate],
		"quiet_start": ws.Settings.QuietStart, "quiet_end": ws.Settings.QuietEnd,
	}
	if ws.Settings.CampaignsNeedApproval {
		f["campaigns_need_approval"] = "1"
	}
	return f
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	users, err := s.Auth.Users(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := settingsData{TimeZones: commonTimeZones}
	cfg, ok, err := s.Providers.Get(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case ok:
		d.ProviderLabel = mailer.Label(cfg.Kind) + ", from " + cfg.FromEmail
	default:
		d.ProviderLabel = "planned through " + mailer.Label(ws.Settings.EmailProvider) + ", not set up yet"
	}
	for _, u := range users {
		d.Users = append(d.Users, userOption{ID: u.ID, Name: u.Name})
	}
	p := s.pageFor(r, ws.Name+" settings", &page{Form: form, Errors: fieldErrs, Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "workspace_settings", "", p)
}

func (s *Server) workspaceSettings(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	s.renderSettings(w, r, http.StatusOK, settingsForm(ws), nil)
}

func (s *Server) workspaceRename(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	name := r.PostFormValue("name")
	updated, err := s.Workspaces.Update(r.Context(), a, ws.ID, workspace.Change{Name: &name})
	if fe := fieldErrors(err); fe != nil {
		form := settingsForm(ws)
		form["name"] = name
		s.renderSettings(w, r, statusOfErr(err), form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Workspace renamed to “"+updated.Name+"”.")
	seeOther(w, r, "/w/"+ws.ID+"/settings")
}

func (s *Server) workspaceSettingsSave(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "time_zone", "approver_user_id", "email_provider", "campaigns_need_approval", "phone_region", "real_estate", "quiet_start", "quiet_end")
	approval, realEstate := form["campaigns_need_approval"] != "", form["real_estate"] != ""
	tz, approver, provider, region := form["time_zone"], form["approver_user_id"], form["email_provider"], form["phone_region"]
	quietStart, quietEnd := form["quiet_start"], form["quiet_end"]
	ch := workspace.Change{TimeZone: &tz, CampaignsNeedApproval: &approval, ApproverUserID: &approver, PhoneRegion: &region, RealEstate: &realEstate,
		QuietStart: &quietStart, QuietEnd: &quietEnd}
	if _, ok := r.PostForm["email_provider"]; ok { // the API's field; the page sets it on the Email page
		ch.EmailProvider = &provider
	}
	_, err := s.Workspaces.Update(r.Context(), a, ws.ID, ch)
	if fe := fieldErrors(err); fe != nil {
		form["name"] = ws.Name
		s.renderSettings(w, r, statusOfErr(err), form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Preferences saved.")
	seeOther(w, r, "/w/"+ws.ID+"/settings")
}

func (s *Server) workspaceDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	s.renderDelete(w, r, http.StatusOK, map[string]string{}, nil)
}

func (s *Server) renderDelete(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	im, err := s.Workspaces.Impact(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "workspace_delete", "", s.pageFor(r, "Delete "+ws.Name, &page{Form: form, Errors: fieldErrs, Data: im}))
}

func (s *Server) workspaceDelete(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "confirm_name")
	err := s.Workspaces.Delete(r.Context(), a, ws.ID, form["confirm_name"])
	if fe := fieldErrors(err); fe != nil {
		s.renderDelete(w, r, statusOfErr(err), form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Workspace “"+ws.Name+"” deleted.")
	seeOther(w, r, "/")
}
