package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	e := FromMap(nil)
	c := ReadCommon(e)
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(c.DataDir) || filepath.Base(c.DataDir) != "var" || c.DB != filepath.Join(c.DataDir, "pi-crm.db") {
		t.Fatalf("defaults %+v", c)
	}
	e = FromMap(map[string]string{"STATE_DIRECTORY": "/var/lib/pi-crm"})
	if c := ReadCommon(e); c.DataDir != "/var/lib/pi-crm" {
		t.Fatalf("under systemd DataDir=%q, want $STATE_DIRECTORY", c.DataDir)
	}
}

func TestErrorsNameVariables(t *testing.T) {
	for _, tt := range []struct {
		name, value string
		read        func(*Env)
	}{
		{"PICRM_HTTP_ADDR", "8080", func(e *Env) { e.Addr("PICRM_HTTP_ADDR", "") }},
		{"PICRM_HTTP_ADDR", "host:99999", func(e *Env) { e.Addr("PICRM_HTTP_ADDR", "") }},
		{"PICRM_SESSION_IDLE", "-1h", func(e *Env) { e.Duration("PICRM_SESSION_IDLE", time.Hour) }},
		{"PICRM_BCRYPT_COST", "99", func(e *Env) { e.Int("PICRM_BCRYPT_COST", 11, 4, 15) }},
		{"PICRM_COOKIE_SECURE", "maybe", func(e *Env) { e.Bool("PICRM_COOKIE_SECURE", false) }},
		{"PICRM_DB", "  ", func(e *Env) { ReadCommon(e) }},
		{"PICRM_LOG_LEVEL", "loud", func(e *Env) { ReadCommon(e) }},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			e := FromMap(map[string]string{tt.name: tt.value})
			tt.read(e)
			if err := e.Err(); err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("err=%v, want one naming %s", err, tt.name)
			}
		})
	}
}

func FuzzAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", ":0", "[::1]:80", "x", "a:b:c", "host:-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := FromMap(map[string]string{"A": s})
		got := e.Addr("A", "def:1")
		if e.Err() != nil && got != "def:1" {
			t.Fatalf("a rejected value %q was returned as %q", s, got)
		}
	})
}
