package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Options tunes the API.
type Options struct {
	// RatePerSecond and Burst bound each key's requests (defaults 10 and 30).
	RatePerSecond float64
	Burst         int
	Now           func() time.Time
}

// Handler serves /api/v1.
type Handler struct {
	log        *slog.Logger
	auth       *auth.Store
	workspaces *workspace.Store
	contacts   *contact.Store
	lists      *list.Store
	templates  *emailtemplate.Store
	campaigns  *campaign.Store
	limit      *limiter
	router     chi.Router
}

// New returns the API handler, to be mounted at /api/v1.
func New(svc *services.Services, opts Options) *Handler {
	if opts.RatePerSecond <= 0 {
		opts.RatePerSecond = 10
	}
	if opts.Burst <= 0 {
		opts.Burst = 30
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{log: svc.Log, auth: svc.Auth, workspaces: svc.Workspaces, contacts: svc.Contacts, lists: svc.Lists, templates: svc.Templates, campaigns: svc.Campaigns, limit: newLimiter(opts.RatePerSecond, opts.Burst, opts.Now)}
	r := chi.NewRouter()
	r.Use(h.authenticate)
	r.Get("/me", h.me)
	r.With(h.need(auth.ScopeWorkspacesRead)).Get("/workspaces", h.workspaceList)
	r.With(h.need(auth.ScopeWorkspacesWrite)).Post("/workspaces", h.workspaceCreate)
	r.With(h.need(auth.ScopeWorkspacesRead)).Get("/workspaces/{ws}", h.workspaceGet)
	r.With(h.need(auth.ScopeWorkspacesWrite)).Patch("/workspaces/{ws}", h.workspaceUpdate)
	r.With(h.need(auth.ScopeWorkspacesWrite)).Delete("/workspaces/{ws}", h.workspaceDelete)

	read, write := h.need(auth.ScopeContactsRead), h.need(auth.ScopeContactsWrite)
	r.Route("/workspaces/{ws}/contacts", func(r chi.Router) {
		r.With(read).Get("/", h.contactList)
		r.With(write).Post("/", h.contactCreate)
		r.With(read).Get("/{contact}", h.contactGet)
		r.With(write).Patch("/{contact}", h.contactUpdate)
		r.With(write).Delete("/{contact}", h.contactDelete)
		r.With(write).Post("/{contact}/merge", h.contactMerge)
		r.With(read).Get("/{contact}/activities", h.contactLog)
		r.With(write).Post("/{contact}/notes", h.contactNote)
		r.With(write).Post("/{contact}/calls", h.contactCall)
		r.With(write).Put("/{contact}/tags/{list}", h.contactTag(true))
		r.With(write).Delete("/{contact}/tags/{list}", h.contactTag(false))
		r.With(write).Post("/{contact}/shares", h.contactShare)
		r.With(write).Delete("/{contact}/shares/{user}", h.contactUnshare)
	})
	r.With(read).Get("/workspaces/{ws}/lists", h.listAll)
	r.With(write).Post("/workspaces/{ws}/lists", h.listCreate)
	r.With(write).Patch("/workspaces/{ws}/lists/{list}", h.listRename)
	r.With(write).Delete("/workspaces/{ws}/lists/{list}", h.listDelete)
	r.With(read).Get("/workspaces/{ws}/fields", h.fieldList)
	r.With(write).Post("/workspaces/{ws}/fields", h.fieldCreate)
	r.With(write).Patch("/workspaces/{ws}/fields/{field}", h.fieldUpdate)
	r.With(write).Delete("/workspaces/{ws}/fields/{field}", h.fieldDelete)
	tread, twrite := h.need(auth.ScopeTemplatesRead), h.need(auth.ScopeTemplatesWrite)
	r.Route("/workspaces/{ws}/templates", func(r chi.Router) {
		r.With(tread).Get("/", h.templateList)
		r.With(twrite).Post("/", h.templateCreate)
		r.With(tread).Get("/{tpl}", h.templateGet)
		r.With(twrite).Put("/{tpl}", h.templateUpdate)
		r.With(twrite).Delete("/{tpl}", h.templateDelete)
		r.With(twrite).Post("/{tpl}/copy", h.templateCopy)
		r.With(tread).Get("/{tpl}/preview", h.templatePreview)
	})
	cread, cwrite, capprove := h.need(auth.ScopeCampaignsRead), h.need(auth.ScopeCampaignsWrite), h.need(auth.ScopeCampaignsApprove)
	r.Route("/workspaces/{ws}/campaigns", func(r chi.Router) {
		r.With(cread).Get("/", h.campaignList)
		r.With(cwrite).Post("/", h.campaignCreate)
		r.With(cread).Get("/{campaign}", h.campaignGet)
		r.With(cwrite).Put("/{campaign}", h.campaignUpdate)
		r.With(cread).Get("/{campaign}/recipients", h.campaignRecipients)
		r.With(cwrite).Post("/{campaign}/submit", h.campaignSubmit)
		r.With(cwrite).Post("/{campaign}/launch", h.campaignLaunch)
		r.With(cwrite).Post("/{campaign}/cancel", h.campaignCancel)
		r.With(cwrite).Post("/{campaign}/pause", h.campaignFlip(true))
		r.With(cwrite).Post("/{campaign}/resume", h.campaignFlip(false))
		r.With(cread).Get("/{campaign}/enrollments", h.campaignEnrollments)
		r.With(cwrite).Post("/{campaign}/enrollments", h.campaignEnroll)
		r.With(cwrite).Delete("/{campaign}/enrollments/{contact}", h.campaignUnenroll)
	})
	r.Route("/workspaces/{ws}/segments", func(r chi.Router) {
		r.With(cread).Get("/", h.segmentList)
		r.With(cwrite).Post("/", h.segmentSave(true))
		r.With(cread).Get("/{segment}", h.segmentGet)
		r.With(cwrite).Put("/{segment}", h.segmentSave(false))
		r.With(cwrite).Delete("/{segment}", h.segmentDelete)
		r.With(cread).Get("/{segment}/members", h.segmentMembers)
	})
	r.With(capprove).Get("/approvals", h.approvalList)
	r.With(capprove).Post("/approvals/{campaign}/approve", h.approvalDecide(true))
	r.With(capprove).Post("/approvals/{campaign}/reject", h.approvalDecide(false))
	r.With(read).Get("/shared", h.sharedList)
	r.With(read).Get("/shared/{contact}", h.sharedGet)
	r.With(write).Post("/shared/{contact}/save-as", h.sharedSaveAs)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, errs.NotFoundf("No such API route."))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, envelope{Error: &apiError{Code: "method_not_allowed", Message: r.Method + " is not allowed here."}})
	})
	h.router = r
	return h
}

// Routes returns the router, for tests that walk every route.
func (h *Handler) Routes() chi.Routes { return h.router }

// ServeHTTP routes an API request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

type ctxKey int

const keyActor ctxKey = 0

func actorFrom(ctx context.Context) auth.Actor { a, _ := ctx.Value(keyActor).(auth.Actor); return a }

// authenticate resolves the bearer key to an actor (401 otherwise) and
// applies the key's rate limit (429 with Retry-After).
func (h *Handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found || strings.TrimSpace(key) == "" {
			h.fail(w, r, errs.New(errs.Unauthorized, "Send an API key as \"Authorization: Bearer <key>\"."))
			return
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		a, err := h.auth.APIKeyActor(r.Context(), strings.TrimSpace(key), ip)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if okay, wait := h.limit.allow(a.APIKeyID); !okay {
			h.fail(w, r, &errs.Error{Kind: errs.TooMany, Code: "rate_limited", RetryAfter: wait,
				Message: "Too many requests for this API key; slow down."})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyActor, a)))
	})
}

// need refuses a key without scope with 403.
func (h *Handler) need(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !actorFrom(r.Context()).Can(scope) {
				h.fail(w, r, &errs.Error{Kind: errs.Forbidden, Code: "missing_scope", Message: "This API key lacks the " + scope + " scope."})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

type meJSON struct {
	ID       string   `json:"id"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	TimeZone string   `json:"time_zone"`
	Scopes   []string `json:"scopes"`
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r.Context())
	ok(w, http.StatusOK, meJSON{ID: a.UserID, Email: a.Email, Name: a.Name, TimeZone: a.TimeZone, Scopes: a.Scopes})
}
