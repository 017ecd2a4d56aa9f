package auth

import (
	"slices"

	"github.com/pi-crm/pi-crm/pkg/audit"
)

// The scopes an API key may carry. A session carries all of them.
const (
	ScopeWorkspacesRead   = "workspaces:read"
	ScopeWorkspacesWrite  = "workspaces:write"
	ScopeContactsRead     = "contacts:read"
	ScopeContactsWrite    = "contacts:write"
	ScopeTemplatesRead    = "templates:read"
	ScopeTemplatesWrite   = "templates:write"
	ScopeCampaignsRead    = "campaigns:read"
	ScopeCampaignsWrite   = "campaigns:write"
	ScopeCampaignsApprove = "campaigns:approve"
)

// Scopes lists every scope, in the order the UI shows them.
var Scopes = []string{ScopeWorkspacesRead, ScopeWorkspacesWrite, ScopeContactsRead, ScopeContactsWrite, ScopeTemplatesRead, ScopeTemplatesWrite,
	ScopeCampaignsRead, ScopeCampaignsWrite, ScopeCampaignsApprove}

// ValidScope reports whether s is a known scope.
func ValidScope(s string) bool { return slices.Contains(Scopes, s) }

// Actor is the user on whose behalf code runs, and through what.
type Actor struct {
	UserID   string
	Email    string
	Name     string
	TimeZone string
	IP       string
	// APIKeyID is set when the actor came through an API key; Scopes then
	// limit what it may do. A session actor has every scope.
	APIKeyID string
	Scopes   []string
}

// Can reports whether the actor holds scope.
func (a Actor) Can(scope string) bool {
	return a.APIKeyID == "" || slices.Contains(a.Scopes, scope)
}

// Audit returns an audit entry for an action by a.
func (a Actor) Audit(action, entityType, entityID string, details map[string]any) audit.Entry {
	if a.APIKeyID != "" {
		if details == nil {
			details = map[string]any{}
		}
		details["api_key_id"] = a.APIKeyID
	}
	return audit.Entry{UserID: a.UserID, Action: action, EntityType: entityType, EntityID: entityID, Details: details, IP: a.IP}
}

// JobActor is the actor a background job acts as: the user who queued it,
// from no address. Its audit rows are that user's.
func JobActor(userID string) Actor { return Actor{UserID: userID} }
