// Command crm-insights runs the AI jobs: it claims the template drafts the
// UI queues (kind ai.draft) and asks an OpenAI-compatible model for them.
// Scheduled insights and the weekly summary come next. Like every worker
// it checks the schema, serves /metrics on PICRM_INSIGHTS_METRICS_ADDR,
// writes its heartbeat row and pets the systemd watchdog from its loop.
//
// The model: PICRM_AI_BASE_URL (an OpenAI-compatible /v1 URL; empty is
// OpenAI's), PICRM_AI_MODEL (empty: no model, and the UI says how to set
// one), PICRM_AI_TIMEOUT, PICRM_AI_MAX_TOKENS, and the key as the systemd
// credential ai-key, which only this daemon reads ("unset": none).
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/aidraft"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	daemon.PrivateFiles()
	os.Exit(daemon.WorkerMainWith("crm-insights", version, "PICRM_INSIGHTS_METRICS_ADDR", "127.0.0.1:9102", setup))
}

// setup reads the model's settings and gives the worker the AI job kinds.
func setup(e *config.Env, cfg *daemon.WorkerConfig) {
	mc := ai.Config{
		BaseURL:   e.String("PICRM_AI_BASE_URL", ""),
		Model:     e.String("PICRM_AI_MODEL", ""),
		Timeout:   e.Duration("PICRM_AI_TIMEOUT", 2*time.Minute),
		MaxTokens: e.Int("PICRM_AI_MAX_TOKENS", 2000, 100, 32000),
	}
	key, err := e.Credential("ai-key")
	switch {
	case err == nil && key != "unset": // Ansible writes "unset" for a server without a key
		mc.Key = key
	case err == nil:
	case !errors.Is(err, config.ErrNoCredential):
		e.Fail("ai-key", "%v", err)
	}
	cfg.Setup = func(_ *daemon.Loop, db *store.DB) error {
		// crm-web reads which model there is (it never sees the key).
		return aidraft.SetModel(context.Background(), db, mc)
	}
	cfg.Kinds = func(db *store.DB, log *slog.Logger) []jobs.Kind {
		if !mc.Configured() {
			log.Info("no model configured (PICRM_AI_MODEL): AI drafts wait until one is")
			return nil
		}
		log.Info("AI model", "model", mc.Model, "endpoint", mc.Endpoint())
		return []jobs.Kind{aidraft.Kind(db, ai.New(mc), mc.Endpoint())}
	}
}
