package api_test

import (
	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/audit"
)

func auditStore(app *apptest.App) *audit.Store { return audit.NewStore(app.DB) }
