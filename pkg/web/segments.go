package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// segmentChoices is what a segment's filters offer (the campaign form's
// and the saved segment's): the workspace's stages, tags and fields, the
// ones checked, its saved segments and the quick ones.
type segmentChoices struct {
	Stages []list.List
	Tags   []list.List
	Fields []contact.FieldDef
	Picked map[string]bool // stages and tags checked
	Saved  []campaign.Saved
	Quick  []quickSegment
}

// quickSegment is a broad segment a holiday send starts from, by its
// stages.
type quickSegment struct {
	Name  string
	Query template.URL // the new campaign form's query: stage ids, escaped
}

// segmentKeys are the segment filters' single-valued form keys.
var segmentKeys = []string{"stale_days", "not_within_days", "custom_field", "custom_value", "created_since", "segment_id"}

// choices reads workspace ws's segment choices, checked as picked says.
func (s *Server) choices(r *http.Request, a auth.Actor, ws workspace.Workspace, picked []string) (segmentChoices, error) {
	d := segmentChoices{Picked: map[string]bool{}}
	var err error
	if d.Stages, err = s.Lists.All(r.Context(), a, ws.ID, list.Stage); err != nil {
		return d, err
	}
	if d.Tags, err = s.Lists.All(r.Context(), a, ws.ID, list.Tag); err != nil {
		return d, err
	}
	if d.Fields, err = s.Contacts.Fields(r.Context(), a, ws.ID); err != nil {
		return d, err
	}
	if d.Saved, err = s.Campaigns.Segments(r.Context(), a, ws.ID); err != nil {
		return d, err
	}
	for _, id := range picked {
		d.Picked[id] = true
	}
	d.Quick = quickSegments(d.Stages)
	return d, nil
}

// quickSegments are the broad segments the workspace's stages make:
// everyone active (every stage but the lost), and prospects with past
// clients, when the workspace has such stages.
func quickSegments(stages []list.List) []quickSegment {
	var active, warm url.Values = url.Values{}, url.Values{}
	for _, st := range stages {
		n := strings.ToLower(st.Name)
		if !strings.Contains(n, "lost") {
			active.Add("stage_id", st.ID)
		}
		if strings.Contains(n, "prospect") || strings.Contains(n, "lead") || strings.Contains(n, "past client") || strings.Contains(n, "closed") {
			warm.Add("stage_id", st.ID)
		}
	}
	out := []quickSegment{{Name: "Everyone"}}
	if len(active["stage_id"]) > 0 && len(active["stage_id"]) < len(stages) {
		active.Add("stage_id", "none")
		out = append(out, quickSegment{Name: "All active (not lost)", Query: template.URL(active.Encode())})
	}
	if len(warm["stage_id"]) > 0 {
		out = append(out, quickSegment{Name: "Prospects and past clients", Query: template.URL(warm.Encode())})
	}
	return out
}

// segmentOfForm reads a segment's filters from the form, in the
// workspace's time zone; a number or date that does not read is a field
// error in fe.
func (s *Server) segmentOfForm(r *http.Request, ws workspace.Workspace, form map[string]string, fe map[string]string) campaign.Segment {
	num := func(k string) int {
		v := strings.TrimSpace(form[k])
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			fe[k] = "Enter a number of days, or leave it empty."
		}
		return n
	}
	g := campaign.Segment{StageIDs: r.PostForm["stage_id"], TagIDs: r.PostForm["tag_id"], ContactIDs: r.PostForm["contact_id"],
		StaleDays: num("stale_days"), NotWithinDays: num("not_within_days")}
	if fid := form["custom_field"]; fid != "" {
		g.Custom = map[string]string{fid: strings.TrimSpace(form["custom_value"])}
	}
	if v := strings.TrimSpace(form["created_since"]); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, s.zone(ws.Settings.TimeZone))
		if err != nil {
			fe["created_since"] = "Enter a date, or leave it empty."
		}
		g.CreatedSince = t
	}
	return g
}

// segmentFormValues puts segment g in form for its fields; it returns the
// stages and tags to check.
func (s *Server) segmentFormValues(ws workspace.Workspace, g campaign.Segment, form map[string]string) []string {
	if g.StaleDays > 0 {
		form["stale_days"] = strconv.Itoa(g.StaleDays)
	}
	if g.NotWithinDays > 0 {
		form["not_within_days"] = strconv.Itoa(g.NotWithinDays)
	}
	for fid, v := range g.Custom {
		form["custom_field"], form["custom_value"] = fid, v
	}
	if !g.CreatedSince.IsZero() {
		form["created_since"] = g.CreatedSince.In(s.zone(ws.Settings.TimeZone)).Format("2006-01-02")
	}
	picked := append([]string{}, g.StageIDs...)
	if g.StageID != "" {
		picked = append(picked, g.StageID)
	}
	return append(picked, g.TagIDs...)
}

// segmentFormData is the saved segment's form and, once saved, who it
// names now.
type segmentFormData struct {
	segmentChoices
	Segment *campaign.Saved
	Members []campaign.Recipient
	Gets    int
}

func (s *Server) segmentsList(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	all, err := s.Campaigns.Segments(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Segments · "+ws.Name, &page{Section: "campaigns", Data: all})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "segments", "", p)
}

func (s *Server) renderSegmentForm(w http.ResponseWriter, r *http.Request, status int, sg *campaign.Saved, form map[string]string, picked []string, fe map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	ch, err := s.choices(r, a, ws, picked)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := segmentFormData{segmentChoices: ch, Segment: sg}
	title := "New segment"
	if sg != nil {
		title = sg.Name
		if d.Members, err = s.Campaigns.SegmentMembers(r.Context(), a, ws.ID, sg.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		for _, m := range d.Members {
			if m.Excluded == "" {
				d.Gets++
			}
		}
		if len(d.Members) > 50 {
			d.Members = d.Members[:50]
		}
	}
	s.render(w, r, status, "segment_form", "", s.pageFor(r, title, &page{Section: "campaigns", Data: d, Form: form, Errors: fe}))
}

func (s *Server) segmentNew(w http.ResponseWriter, r *http.Request) {
	s.renderSegmentForm(w, r, http.StatusOK, nil, map[string]string{}, r.URL.Query()["stage_id"], nil)
}

func (s *Server) segmentShow(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	sg, err := s.Campaigns.Segment(r.Context(), a, ws.ID, chi.URLParam(r, "segment"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	form := map[string]string{"name": sg.Name}
	picked := s.segmentFormValues(ws, sg.Segment, form)
	s.renderSegmentForm(w, r, http.StatusOK, &sg, form, picked, nil)
}

// segmentSave creates a segment (id "") or saves segment id.
func (s *Server) segmentSave(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "segment")
	var old *campaign.Saved
	if id != "" {
		sg, err := s.Campaigns.Segment(r.Context(), a, ws.ID, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		old = &sg
	}
	form := formOf(r, append([]string{"name"}, segmentKeys...)...)
	picked := append(append([]string{}, r.PostForm["stage_id"]...), r.PostForm["tag_id"]...)
	fe := map[string]string{}
	g := s.segmentOfForm(r, ws, form, fe)
	if len(fe) > 0 {
		s.renderSegmentForm(w, r, http.StatusUnprocessableEntity, old, form, picked, fe)
		return
	}
	var sg campaign.Saved
	var err error
	if old == nil {
		sg, err = s.Campaigns.CreateSegment(r.Context(), a, ws.ID, form["name"], g)
	} else {
		sg, err = s.Campaigns.UpdateSegment(r.Context(), a, ws.ID, id, form["name"], g)
	}
	if fe := fieldErrors(err); fe != nil {
		s.renderSegmentForm(w, r, statusOfErr(err), old, form, picked, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Saved. Campaigns that go to it read it again each time they send.")
	seeOther(w, r, "/w/"+ws.ID+"/segments/"+sg.ID)
}

func (s *Server) segmentDelete(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "segment")
	err := s.Campaigns.DeleteSegment(r.Context(), a, ws.ID, id)
	if msg, ok := refusal(err); ok {
		s.flash(w, r, msg)
		seeOther(w, r, "/w/"+ws.ID+"/segments/"+id)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Segment deleted.")
	seeOther(w, r, "/w/"+ws.ID+"/segments")
}
