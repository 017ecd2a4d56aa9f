package main

import (
	"context"
	"fmt"

	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/secrets"
)

// secretsRotate seals every provider credential again under the current
// key of the ring (the credential secret-keys, or the data folder's file),
// so the older keys can be dropped from it.
func (a *app) secretsRotate(ctx context.Context) error {
	ring, err := secrets.Load(config.FromOS(), a.cfg.DataDir, false)
	if err != nil {
		return fmt.Errorf("secrets rotate: %w", err)
	}
	moved, kept, err := mailer.Reseal(ctx, a.db, ring)
	if err != nil {
		return fmt.Errorf("secrets rotate: %w", err)
	}
	fmt.Fprintf(a.stdout, "resealed %d credentials under key %s (%d already were)\n", moved, ring.CurrentID(), kept)
	return nil
}
