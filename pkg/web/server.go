package web

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Deps is what the web server needs.
type Deps struct {
	// Services are the capabilities (stores, importer, ledger) the
	// handlers call, built by internal/services.
	*services.Services
	// Registry receives the HTTP metrics; cmd/crm-web serves it.
	Registry *prometheus.Registry
	// API serves /api/v1; mounted as is.
	API     http.Handler
	Version string
	// SecureCookies forces the Secure flag even on plain HTTP, for a TLS
	// proxy in front; over TLS the flag is always set.
	SecureCookies bool
	// StartBackup starts a run queued in Backups (on the Pi: touches the
	// file crm-snapshot.path watches); nil hides "Backup now".
	StartBackup func()
	// Replicated says the database streams to a bucket (PICRM_S3_BUCKET is
	// set): the System page says where the data is.
	Replicated bool
	// UploadTimeout and StreamSlack override the package's (tests make
	// them short).
	UploadTimeout, StreamSlack time.Duration
	// Twilio verifies the texts Twilio posts to /hooks/twilio; without an
	// auth token that route answers 404 (crm-sender polls instead).
	Twilio TwilioHook
}

// TwilioHook is what checks a Twilio webhook: the account, its auth token
// and, when Twilio reaches the Pi through a proxy or a tunnel, the public
// address Twilio was given (the signature covers the address it called).
type TwilioHook struct {
	AccountSID string
	AuthToken  string
	PublicURL  string
}

func (s *Server) uploadTimeout() time.Duration {
	if s.UploadTimeout > 0 {
		return s.UploadTimeout
	}
	return UploadTimeout
}

func (s *Server) streamSlack() time.Duration {
	if s.StreamSlack > 0 {
		return s.StreamSlack
	}
	return StreamSlack
}

// Server is the web UI.
type Server struct {
	Deps
	tmpl    *pageSet
	static  *staticFiles
	started time.Time
	pid     int
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
	zones   sync.Map // time zone name -> *time.Location
	// counts and reengage keep the dashboard's whole-workspace figures
	// for a short while (memo.go).
	counts   *memo[contact.Counts]
	reengage *memo[campaign.Reengagement]
}

// New parses the templates and loads the assets. It returns an error if an
// embedded template does not parse.
func New(d Deps) (*Server, error) {
	st, err := loadStatic()
	if err != nil {
		return nil, err
	}
	t, err := parseTemplates(st)
	if err != nil {
		return nil, err
	}
	s := &Server{Deps: d, tmpl: t, static: st, started: time.Now(), pid: os.Getpid(),
		counts: newMemo[contact.Counts](dashboardTTL), reengage: newMemo[campaign.Reengagement](dashboardTTL),
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "picrm_http_requests_total", Help: "HTTP requests served by crm-web, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "picrm_http_request_duration_seconds", Help: "Time to serve HTTP requests, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	if d.Registry != nil {
		for _, c := range []prometheus.Collector{s.reqs, s.latency} {
			if err := d.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Handler returns the router with every route.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.withRequestID, s.recoverer, s.observe, securityHeaders)
	r.Get("/healthz", s.healthz)
	// /metrics is not here: crm-web serves it on a loopback address of its
	// own, never on the LAN port, where it would need no log-in.
	r.Method(http.MethodGet, "/static/*", s.static)
	if s.API != nil {
		r.Mount("/api/v1", s.API)
	}
	// Provider webhooks, for an owner who exposes the Pi: no session, the
	// provider's signature is the credential (pi-crm polls otherwise).
	r.Post("/hooks/mailgun/{ws}", s.mailgunHook)
	r.Post("/hooks/twilio", s.twilioHook)
	// A phone's calendar app fetches the feed with no session: the secret
	// in the address is the credential.
	r.Get("/calendar/{file}", s.calendarFeed)
	r.Group(func(r chi.Router) {
		// Browsers' cross-origin state-changing requests are refused
		// (Sec-Fetch-Site / Origin checks, Go's CrossOriginProtection); the
		// JSON API above authenticates by bearer key, never by cookie, so it
		// needs no such check.
		r.Use(http.NewCrossOriginProtection().Handler)
		r.Get("/login", s.loginShow)
		r.Post("/login", s.loginSubmit)
		r.Group(func(r chi.Router) {
			r.Use(s.requireSession)
			r.Post("/logout", s.logout)
			r.Get("/", s.home)
			r.Get("/switch", s.workspaceSwitch)
			r.Get("/workspaces/new", s.workspaceNew)
			r.Post("/workspaces", s.workspaceCreate)
			r.Route("/w/{ws}", func(r chi.Router) {
				r.Use(s.loadWorkspace)
				r.Get("/", s.dashboard)
				r.Post("/attention/email/{provider}/done", s.attentionEmailDone)
				r.Post("/attention/text/done", s.attentionTextDone)
				r.Post("/attention/done", s.attentionDone)
				r.Get("/widgets/{widget}", s.widget)
				r.Post("/insights/{insight}/act", s.insightAct("act"))
				r.Post("/insights/{insight}/dismiss", s.insightAct("dismiss"))
				r.Post("/insights/{insight}/useful", s.insightAct("useful"))
				r.Post("/insights/{insight}/not-useful", s.insightAct("not-useful"))
				r.Get("/todos", s.todosShow)
				r.Post("/todos", s.todoCreate)
				r.Post("/todos/{todo}/done", s.todoAct("done"))
				r.Post("/todos/{todo}/reopen", s.todoAct("reopen"))
				r.Post("/todos/{todo}/snooze", s.todoAct("snooze"))
				r.Post("/todos/{todo}/delete", s.todoAct("delete"))
				r.Get("/settings", s.workspaceSettings)
				r.Post("/rename", s.workspaceRename)
				r.Post("/settings", s.workspaceSettingsSave)
				r.Get("/email", s.emailSettings)
				r.Post("/email", s.emailSettingsSave)
				r.Post("/email/test", s.emailTest)
				r.Post("/email/signin", s.emailSignIn)
				r.Post("/email/signin/google", s.emailSignInGoogle)
				r.Post("/email/signin/microsoft", s.emailSignInMicrosoft)
				r.Post("/email/signin/cancel", s.emailSignInCancel)
				r.Get("/outbox", s.outboxShow)
				r.Post("/outbox/{msg}/resend", s.outboxDecide(true))
				r.Post("/outbox/{msg}/drop", s.outboxDecide(false))
				r.Get("/delete", s.workspaceDeleteConfirm)
				r.Post("/delete", s.workspaceDelete)
				r.Get("/contacts", s.contactList)
				r.Post("/contacts", s.contactCreate)
				r.Get("/contacts/new", s.contactNew)
				r.Post("/contacts/bulk", s.contactBulk)
				r.Get("/campaigns", s.campaignsList)
				r.Get("/campaigns/new", s.campaignNew)
				r.Post("/campaigns", s.campaignCreate)
				r.Get("/campaigns/{campaign}", s.campaignShow)
				r.Get("/campaigns/{campaign}/edit", s.campaignEdit)
				r.Post("/campaigns/{campaign}", s.campaignUpdate)
				r.Post("/campaigns/{campaign}/submit", s.campaignAct("submit"))
				r.Post("/campaigns/{campaign}/launch", s.campaignAct("launch"))
				r.Post("/campaigns/{campaign}/cancel", s.campaignAct("cancel"))
				r.Post("/campaigns/{campaign}/pause", s.campaignAct("pause"))
				r.Post("/campaigns/{campaign}/resume", s.campaignAct("resume"))
				r.Post("/campaigns/{campaign}/unenroll", s.campaignUnenroll)
				r.Post("/campaigns/{campaign}/enroll", s.campaignEnroll)
				r.Get("/segments", s.segmentsList)
				r.Get("/segments/new", s.segmentNew)
				r.Post("/segments", s.segmentSave)
				r.Get("/segments/{segment}", s.segmentShow)
				r.Post("/segments/{segment}", s.segmentSave)
				r.Post("/segments/{segment}/delete", s.segmentDelete)
				r.Get("/texts/new", s.textsNew)
				r.Post("/texts", s.textsSend)
				r.Post("/contacts/resolve", s.contactResolve)
				r.Get("/duplicates", s.duplicates)
				r.Post("/duplicates/separate", s.duplicatesSeparate)
				r.Get("/lists", s.listsShow)
				r.Post("/lists", s.listCreate)
				r.Post("/lists/{list}/rename", s.listRename)
				r.Post("/lists/{list}/delete", s.listDelete)
				r.Post("/lists/{list}/move", s.listMove)
				r.Get("/import", s.importsShow)
				r.Post("/import", s.importUpload)
				r.Get("/import/{id}", s.importJob)
				r.Post("/import/{id}/plan", s.importPlan(false))
				r.Post("/import/{id}/start", s.importPlan(true))
				r.Get("/import/{id}/progress", s.importProgress)
				r.Get("/import/{id}/errors.csv", s.importErrors)
				r.Get("/export", s.exportShow)
				r.Get("/export/download", s.exportDownload)
				r.Get("/fields", s.fieldsShow)
				r.Post("/fields", s.fieldCreate)
				r.Post("/fields/{field}", s.fieldUpdate)
				r.Post("/fields/{field}/delete", s.fieldDelete)
				r.Get("/templates", s.templatesShow)
				r.Get("/templates/new", s.templateNew)
				r.Post("/templates", s.templateCreate)
				r.Get("/templates/ai", s.aiWizard)
				r.Post("/templates/ai", s.aiAsk)
				r.Get("/templates/ai/{req}", s.aiRequest)
				r.Post("/templates/ai/{req}/revise", s.aiRevise)
				r.Post("/templates/ai/{req}/retry", s.aiRetry)
				r.Get("/templates/ai/{req}/use", s.aiUse)
				r.Get("/templates/{tpl}", s.templateEdit)
				r.Post("/templates/{tpl}", s.templateUpdate)
				r.Post("/templates/{tpl}/delete", s.templateDelete)
				r.Post("/templates/{tpl}/copy", s.templateCopy)
				r.Post("/templates/{tpl}/share", s.templateAction(s.templateShare, "Shared, read-only."))
				r.Post("/templates/{tpl}/unshare/{user}", s.templateAction(s.templateUnshare, "No longer shared."))
				r.Post("/templates/{tpl}/favorite", s.templateAction(s.templateFavorite, "Added to your Favorites."))
				r.Get("/templates/{tpl}/preview", s.templatePreview)
				r.Get("/templates/{tpl}/preview/frame", s.templatePreviewFrame)
				r.Get("/templates/{tpl}/preview/text", s.templatePreviewText)
				r.Get("/images", s.imagesShow)
				r.Post("/images", s.imageAdd)
				r.Get("/images/{img}", s.imageServe)
				r.Post("/images/{img}/caption", s.imageCaption)
				r.Post("/images/{img}/delete", s.imageDelete)
				r.Route("/contacts/{contact}", func(r chi.Router) {
					r.Get("/", s.contactShow)
					r.Post("/", s.contactUpdate)
					r.Get("/log", s.contactLog)
					r.Get("/email", s.contactEmail)
					r.Post("/email", s.contactEmailSend)
					r.Post("/email/preview", s.contactEmailPreview)
					r.Get("/text", s.contactText)
					r.Post("/text", s.contactTextSend)
					r.Get("/vcard", s.contactVCard)
					r.Post("/stage", s.contactAction(s.contactStage, "Stage changed."))
					r.Post("/tags", s.contactAction(s.contactTagAdd, "Tag added."))
					r.Post("/tags/{list}/remove", s.contactAction(s.contactTagRemove, "Tag removed."))
					r.Post("/promote/{item}", s.contactAction(s.contactPromote, "Primary changed."))
					r.Post("/notes", s.contactAction(s.contactNote, "Note added."))
					r.Post("/calls", s.contactAction(s.contactCall, "Call logged."))
					r.Post("/custom", s.contactAction(s.contactCustom, "Custom fields saved."))
					r.Post("/share", s.contactAction(s.contactShare, "Shared."))
					r.Post("/unshare/{user}", s.contactAction(s.contactUnshare, "No longer shared."))
					r.Post("/delete", s.contactDelete)
					r.Get("/merge", s.mergeShow)
					r.Post("/merge", s.mergeDo)
				})
			})
			r.Get("/shared", s.sharedList)
			r.Get("/shared/{contact}", s.sharedShow)
			r.Post("/shared/{contact}/save-as", s.sharedSaveAs)
			r.Get("/shared/templates/{tpl}", s.sharedTemplateShow)
			r.Get("/shared/templates/{tpl}/frame", s.sharedTemplateFrame)
			r.Post("/shared/templates/{tpl}/save-as", s.sharedTemplateSaveAs)
			r.Get("/favorites", s.favoritesShow)
			r.Post("/favorites/{fav}/push", s.favoritePush)
			r.Post("/favorites/{fav}/delete", s.favoriteDelete)
			r.Get("/settings", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/settings/password", http.StatusSeeOther)
			})
			r.Get("/settings/password", s.passwordShow)
			r.Post("/settings/password", s.passwordChange)
			r.Get("/settings/sessions", s.sessionsShow)
			r.Post("/settings/sessions/{id}/end", s.sessionEnd)
			r.Get("/settings/api-keys", s.apiKeysShow)
			r.Post("/settings/api-keys", s.apiKeyCreate)
			r.Post("/settings/api-keys/{id}/revoke", s.apiKeyRevoke)
			r.Get("/settings/audit", s.auditShow)
			r.Get("/settings/calendar", s.calendarShow)
			r.Post("/settings/calendar/rotate", s.calendarRotate)
			r.Post("/settings/calendar/stop", s.calendarStop)
			r.Post("/settings/summary", s.weeklySummarySave)
			r.Get("/approvals", s.approvals)
			r.Get("/approvals/{campaign}", s.approvalShow)
			r.Post("/approvals/{campaign}/approve", s.approvalDecide(true))
			r.Post("/approvals/{campaign}/reject", s.approvalDecide(false))
			r.Get("/system", s.system)
			r.Post("/system/backup", s.backupNow)
			r.Get("/export/all", s.exportAll)
			r.Get("/system/backup/{id}", s.backupProgress)
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
	return s.limitBodies(r)
}

// pageFor fills the parts of a page every signed-in page shares: the actor,
// the sidebar's workspaces and the flash message.
func (s *Server) pageFor(r *http.Request, title string, p *page) *page {
	if p == nil {
		p = &page{}
	}
	p.Title = title
	if a, ok := actorFrom(r.Context()); ok {
		p.Actor = a
		if list, ok := r.Context().Value(keyWorkspaces).([]workspace.Workspace); ok && p.Workspaces == nil {
			p.Workspaces = list
		}
		if p.Workspaces == nil {
			list, err := s.Workspaces.List(r.Context(), a)
			if err != nil {
				s.Log.Warn("list workspaces for sidebar", logkey.Err, err)
			}
			p.Workspaces = list
		}
	}
	if ws, ok := workspaceFrom(r.Context()); ok && p.Current == nil {
		p.Current = &ws
	}
	return p
}
