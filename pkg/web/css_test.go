package web_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/web/templates"
)

// cssEscape escapes a class name as it stands in a CSS selector.
func cssEscape(c string) string {
	var b strings.Builder
	for _, r := range c {
		if strings.ContainsRune(`:/.[]%#()!,'"=>+~*`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestTemplateClassesAreInTheCSS: every class a template uses is in the
// committed web/static/app.css, so a page never silently loses its styling
// because `make css` was not run (it has: text-amber-700, truncate and
// sm:grid-cols-4 were used and missing). Classes that only hook scripts or
// tests are listed here.
func TestTemplateClassesAreInTheCSS(t *testing.T) {
	css, err := os.ReadFile("../../web/static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	hooks := map[string]bool{"cards": true, "c-phone": true, "htmx-indicator": true}
	classAttr := regexp.MustCompile(`class="([^"]*)"`)
	action := regexp.MustCompile(`{{.*?}}`) // both branches of an {{if}} stay
	missing := map[string][]string{}
	err = fs.WalkDir(templates.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS, p)
		if err != nil {
			return err
		}
		for _, m := range classAttr.FindAllStringSubmatch(action.ReplaceAllString(string(b), " "), -1) {
			for _, c := range strings.Fields(m[1]) {
				if hooks[c] {
					continue
				}
				if !strings.Contains(string(css), "."+cssEscape(c)) {
					missing[c] = append(missing[c], p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for c, files := range missing {
		t.Errorf("class %q (in %s) is not in web/static/app.css: run make css", c, strings.Join(files, ", "))
	}
}

// TestCommittedCSSIsBuilt: web/static/app.css is exactly what `make css`
// builds from web/css/input.css and the templates, so nobody ships a
// template change whose classes were never built (or a hand-edited CSS).
// `make test` installs the pinned Tailwind and names it in PICRM_TAILWIND.
func TestCommittedCSSIsBuilt(t *testing.T) {
	bin := os.Getenv("PICRM_TAILWIND")
	if bin == "" {
		if _, err := os.Stat("../../node_modules/.bin/tailwindcss"); err != nil {
			t.Skip("no Tailwind: run through make test, which installs it (npm ci)")
		}
		bin = "../../node_modules/.bin/tailwindcss"
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "app.css")
	cmd := exec.Command(bin, "-i", "web/css/input.css", "-o", out, "--minify")
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tailwind: %v\n%s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../web/static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	if string(built) != string(committed) {
		t.Fatalf("web/static/app.css (%d bytes) is not what make css builds (%d bytes): run make css and commit it", len(committed), len(built))
	}
}

// TestCommittedEditorIsBuilt checks web/static/editor.js is what esbuild
// bundles from web/editor/editor.js and the pinned TipTap (make editor).
func TestCommittedEditorIsBuilt(t *testing.T) {
	bin, err := filepath.Abs("../../node_modules/.bin/esbuild")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no esbuild: run through make test, which installs it (npm ci)")
	}
	out := filepath.Join(t.TempDir(), "editor.js")
	cmd := exec.Command(bin, "web/editor/editor.js", "--bundle", "--minify", "--format=iife", "--target=es2020", "--legal-comments=none", "--outfile="+out, "--log-level=warning")
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../web/static/editor.js")
	if err != nil {
		t.Fatal(err)
	}
	if string(built) != string(committed) {
		t.Fatalf("web/static/editor.js (%d bytes) is not what make editor builds (%d bytes): run make editor and commit it", len(committed), len(built))
	}
}
