package web_test

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	webfs "github.com/pi-crm/pi-crm/web"
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
	err = fs.WalkDir(webfs.Templates, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(webfs.Templates, p)
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
