// Command crm-insights runs the AI jobs: it claims the template drafts the
// UI queues (kind ai.draft) and asks an OpenAI-compatible model for them.
// Every PICRM_INSIGHTS_EVERY (1h) it also runs the insight finders over
// every workspace (pkg/insight), the model phrasing them when there is
// one, and every 10 minutes queues the weekly summaries that are due
// (pkg/summary: Monday from 07:00 in each user's zone, once a week). Like every worker
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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/aidraft"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/summary"
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
	every := e.Duration("PICRM_INSIGHTS_EVERY", time.Hour)
	cfg.Setup = func(l *daemon.Loop, db *store.DB) error {
		var model insight.Model
		if mc.Configured() {
			c := ai.New(mc)
			model = func(ctx context.Context, system, user, name string, schema json.RawMessage, out any) error {
				_, err := c.JSON(ctx, system, user, name, schema, out)
				return err
			}
		}
		log := l.Log().With("job", "insights")
		eng := insight.NewEngine(db, model, log)
		// a minute in, so a restart loop does not run it over and over
		l.EveryAfter("insights", time.Minute, every, func(ctx context.Context) error {
			start := time.Now()
			st, err := eng.Run(ctx)
			if err != nil {
				return fmt.Errorf("insights run: %w", err)
			}
			log.Info("insights run", "workspaces", st.Workspaces, "found", st.Found, "new", st.New, "back", st.Back, "gone", st.Gone, "phrased", st.Phrased, "took", time.Since(start).Round(time.Millisecond))
			return nil
		})
		weekly := summary.New(db, l.Log().With("job", "weekly-summary"))
		l.EveryAfter("weekly-summary", time.Minute, 10*time.Minute, func(ctx context.Context) error {
			_, err := weekly.Run(ctx)
			return err
		})
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
