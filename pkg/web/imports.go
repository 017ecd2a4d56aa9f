package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

// importsData is the upload page.
type importsData struct {
	Jobs       []transfer.Job
	MaxMB      int
	MaxRows    int
	MaxColumns int
	Accepted   string
}

// mapOption is one choice of a column's select.
type mapOption struct{ Value, Name string }

// importJobData is a job's page: the mapping form with its preview while
// it is a draft, the progress afterwards.
type importJobData struct {
	Job        transfer.Job
	Columns    []mapColumn
	Empty      []mapColumn // columns with no value in the rows scanned
	Options    []mapOption
	Preview    transfer.Preview
	Stages     []list.List
	Tags       []list.List
	TagChecked map[string]bool
	Region     string
}

type mapColumn struct {
	Index   int
	Header  string
	Value   string // the select's value for the current target
	Label   string
	Slot    string // the address a part belongs to, kept from the guess
	Samples []string
}

func (s *Server) importsPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	jobs, err := s.Imports.List(r.Context(), a, ws.ID, 10)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Import contacts", &page{Section: "contacts", Error: msg,
		Data: importsData{Jobs: jobs, MaxMB: transfer.MaxUploadBytes >> 20, MaxRows: transfer.MaxRows, MaxColumns: csvio.MaxColumns, Accepted: ".csv,.txt,.tsv,.vcf,.vcard,text/csv,text/vcard"}})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "imports", "", p)
}

func (s *Server) importsShow(w http.ResponseWriter, r *http.Request) {
	s.importsPage(w, r, http.StatusOK, "")
}

// importUpload streams the uploaded file into a draft job.
func (s *Server) importUpload(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	mr, err := r.MultipartReader() // the body is capped by limitBodies

	if err != nil {
		s.importsPage(w, r, http.StatusUnprocessableEntity, "Choose a file to import.")
		return
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			s.importsPage(w, r, http.StatusUnprocessableEntity, "Choose a file to import.")
			return
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.importsPage(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than %d MB.", transfer.MaxUploadBytes>>20))
			return
		}
		if err != nil {
			s.importsPage(w, r, http.StatusBadRequest, "The upload was cut off; try again.")
			return
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		job, err := s.Imports.Upload(r.Context(), a, ws.ID, part.FileName(), part)
		part.Close()
		if errors.As(err, &mbe) || errors.Is(err, transfer.ErrTooLarge) {
			s.importsPage(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than %d MB.", transfer.MaxUploadBytes>>20))
			return
		}
		if fe := fieldErrors(err); fe != nil {
			s.importsPage(w, r, statusOfErr(err), fe["file"])
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		seeOther(w, r, "/w/"+ws.ID+"/import/"+job.ID)
		return
	}
}

// targetValue encodes a Target as the mapping select's value.
func targetValue(t csvio.Target) string {
	switch t.Kind {
	case csvio.Email, csvio.EmailLabel, csvio.Phone, csvio.PhoneLabel:
		return fmt.Sprintf("%s:%d", t.Kind, t.Slot)
	case csvio.Custom:
		return "custom:" + t.FieldID
	case csvio.Address:
		if t.Part != "" && t.Part != "formatted" {
			return "address:" + t.Part
		}
	}
	return t.Kind
}

// parseTarget decodes a select value; label keeps an email's, phone's or
// address's label from the guess, slot the address a part belongs to.
func parseTarget(v, label, slot string) csvio.Target {
	kind, arg, _ := strings.Cut(v, ":")
	t := csvio.Target{Kind: kind}
	switch kind {
	case csvio.Address, csvio.AddressLabel:
		t.Slot, _ = strconv.Atoi(slot)
		t.Part, t.Label = arg, label
	case csvio.Email, csvio.EmailLabel, csvio.Phone, csvio.PhoneLabel:
		t.Slot, _ = strconv.Atoi(arg)
		if kind == csvio.Email || kind == csvio.Phone {
			t.Label = label
		}
	case csvio.Custom:
		t.FieldID = arg
	}
	return t
}

// maxSlots is how many email and phone columns the mapping page offers.
const maxSlots = 8

func mapOptions(fields []contact.FieldDef) []mapOption {
	var out []mapOption
	for _, k := range csvio.Kinds {
		switch k.Kind {
		case csvio.Email, csvio.EmailLabel, csvio.Phone, csvio.PhoneLabel:
			for slot := range maxSlots {
				name := fmt.Sprintf("%s %d", strings.TrimSuffix(k.Name, " label"), slot+1)
				if strings.HasSuffix(k.Kind, "_label") {
					name += " label"
				}
				if slot == 0 && !strings.HasSuffix(k.Kind, "_label") {
					name += " (primary)"
				}
				out = append(out, mapOption{fmt.Sprintf("%s:%d", k.Kind, slot), name})
			}
		case csvio.Custom:
			for _, f := range fields {
				out = append(out, mapOption{"custom:" + f.ID, "Custom: " + f.Name})
			}
		case csvio.Address:
			out = append(out, mapOption{k.Kind, "Address (whole)"})
			for _, p := range []struct{ part, name string }{{"street", "street"}, {"city", "city"}, {"region", "state or region"}, {"postal", "postal code"}, {"country", "country"}} {
				out = append(out, mapOption{"address:" + p.part, "Address: " + p.name})
			}
		default:
			out = append(out, mapOption{k.Kind, k.Name})
		}
	}
	return out
}

func (s *Server) importJob(w http.ResponseWriter, r *http.Request) {
	s.renderImportJob(w, r, http.StatusOK, nil, "")
}

func (s *Server) renderImportJob(w http.ResponseWriter, r *http.Request, status int, fieldErrs map[string]string, msg string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	job, err := s.Imports.Get(r.Context(), a, ws.ID, chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A refused plan shows the choices as the user made them, not as
	// stored.
	typed := r.Method == http.MethodPost && r.PostForm != nil && job.Status == transfer.Draft
	if typed {
		_, job.Options = planFromForm(r, job)
	}
	d := importJobData{Job: job, TagChecked: map[string]bool{}, Region: ws.Settings.PhoneRegion}
	if job.Status == transfer.Draft {
		fields, err := s.Contacts.Fields(r.Context(), a, ws.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if d.Stages, d.Tags, err = s.listsOf(r, ws.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		for _, t := range job.Options.TagIDs {
			d.TagChecked[t] = true
		}
		d.Options = mapOptions(fields)
		if d.Preview, err = s.Imports.Preview(r.Context(), a, ws.ID, job.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		samples, err := s.Imports.Samples(r.Context(), a, ws.ID, job.ID, 3)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// A draft made before the column limit existed shows the columns
		// it can map, no more.
		for i, h := range job.Header[:min(len(job.Header), csvio.MaxColumns)] {
			c := mapColumn{Index: i, Header: h}
			if typed {
				c.Value, c.Label, c.Slot = r.PostFormValue(fmt.Sprintf("col%d", i)), r.PostFormValue(fmt.Sprintf("label%d", i)), r.PostFormValue(fmt.Sprintf("slot%d", i))
			} else if i < len(job.Mapping) {
				c.Value, c.Label, c.Slot = targetValue(job.Mapping[i]), job.Mapping[i].Label, strconv.Itoa(job.Mapping[i].Slot)
			}
			for _, row := range samples {
				if i < len(row) && row[i] != "" {
					c.Samples = append(c.Samples, row[i])
				}
			}
			if i < len(d.Preview.Filled) && !d.Preview.Filled[i] {
				d.Empty = append(d.Empty, c) // nothing to import: listed by name, its guess kept
				continue
			}
			d.Columns = append(d.Columns, c)
		}
	}
	p := s.pageFor(r, "Import "+job.FileName, &page{Section: "contacts", Data: d, Errors: fieldErrs, Error: msg})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "import_job", "", p)
}

// planFromForm reads the mapping page's form.
func planFromForm(r *http.Request, job transfer.Job) (csvio.Mapping, transfer.Options) {
	var m csvio.Mapping
	for i := range job.Header {
		m = append(m, parseTarget(r.PostFormValue(fmt.Sprintf("col%d", i)), r.PostFormValue(fmt.Sprintf("label%d", i)), r.PostFormValue(fmt.Sprintf("slot%d", i))))
	}
	opt := transfer.Options{StageID: r.PostFormValue("stage_id"), TagIDs: r.PostForm["tag_id"], OnDuplicate: contact.DupAction(r.PostFormValue("on_duplicate"))}
	for k, v := range r.PostForm {
		if row, ok := strings.CutPrefix(k, "dup"); ok && len(v) == 1 && v[0] != "" {
			if opt.RowActions == nil {
				opt.RowActions = map[string]contact.DupAction{}
			}
			opt.RowActions[row] = contact.DupAction(v[0])
		}
	}
	return m, opt
}

// importPlan saves the mapping and options; with start it also queues the
// job and runs it in the background.
func (s *Server) importPlan(start bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, _ := workspaceFrom(r.Context())
		a, _ := actorFrom(r.Context())
		id := chi.URLParam(r, "id")
		job, err := s.Imports.Get(r.Context(), a, ws.ID, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, errs.New(errs.Invalid, "The form could not be read."))
			return
		}
		m, opt := planFromForm(r, job)
		_, err = s.Imports.Plan(r.Context(), a, ws.ID, id, m, opt)
		if fe := fieldErrors(err); fe != nil {
			s.renderImportJob(w, r, statusOfErr(err), fe, "Please correct the highlighted choices.")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !start {
			seeOther(w, r, "/w/"+ws.ID+"/import/"+id+"#preview")
			return
		}
		if err := s.Imports.Start(r.Context(), a, ws.ID, id); err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, "Import started. You can leave this page; it runs on.")
		seeOther(w, r, "/w/"+ws.ID+"/import/"+id)
	}
}

// importProgress is the fragment the progress bar polls while the job runs.
func (s *Server) importProgress(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	job, err := s.Imports.Get(r.Context(), a, ws.ID, chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "import_job", "import-progress", s.pageFor(r, "Import", &page{Data: importJobData{Job: job}}))
}

// importErrors downloads the job's report of the rows with problems.
func (s *Server) importErrors(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "id")
	job, err := s.Imports.Get(r.Context(), a, ws.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := s.attachment(w, "text/csv; charset=utf-8", strings.TrimSuffix(strings.TrimSuffix(job.FileName, ".csv"), ".vcf")+"-report.csv")
	if err := s.Imports.WriteReport(r.Context(), a, ws.ID, id, out); err != nil {
		s.Log.Error("error report", logkey.Job, id, logkey.Err, err)
	}
}

// exportData is the export chooser.
type exportData struct {
	Default  []csvio.Column
	Optional []csvio.Column
	Custom   []contact.FieldDef
	Filter   map[string][]string
	Selected int
}
