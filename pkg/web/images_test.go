package web_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
)

func uploadImage(t *testing.T, app *apptest.App, u *apptest.User, wsID, name string, b []byte, accept string) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", name)
	_, _ = fw.Write(b)
	_ = mw.Close()
	return app.Do(u.Client, http.MethodPost, "/w/"+wsID+"/images", &body, http.Header{"Content-Type": {mw.FormDataContentType()}, "Accept": {accept}, "Sec-Fetch-Site": {"same-origin"}})
}

func TestImagePages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true, FetchLoopback: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Coldwell Banker")

	// The editor's upload: JSON back, with the appliance's URL.
	photo := image.NewRGBA(image.Rect(0, 0, 900, 600))
	for i := range photo.Pix {
		photo.Pix[i] = uint8(i)
	}
	var jb bytes.Buffer
	_ = jpeg.Encode(&jb, photo, nil)
	resp, body := uploadImage(t, app, andy, ws.ID, "../../house.jpg", jb.Bytes(), "application/json")
	apptest.Expect(t, resp, body, http.StatusCreated)
	var got struct{ ID, URL string }
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.URL != "/w/"+ws.ID+"/images/"+got.ID {
		t.Fatalf("upload answer %s (%v)", body, err)
	}
	resp, img := app.Do(andy.Client, http.MethodGet, got.URL, nil, nil)
	apptest.Expect(t, resp, "", http.StatusOK)
	if resp.Header.Get("Content-Type") != "image/jpeg" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || len(img) < 1000 {
		t.Fatalf("serve: %v, %d bytes", resp.Header, len(img))
	}

	// Not an image: a clear error, as JSON for the editor and on the page
	// for the form.
	resp, body = uploadImage(t, app, andy, ws.ID, "evil.svg", []byte(`<svg onload="alert(1)"/>`), "application/json")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not a PNG, JPEG, GIF or WebP") {
		t.Fatalf("svg upload: %d %s", resp.StatusCode, body)
	}
	resp, body = uploadImage(t, app, andy, ws.ID, "notes.txt", []byte("hello"), "text/html")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not a PNG") {
		t.Fatalf("text upload as a form: %d %s", resp.StatusCode, apptest.Trim(body))
	}

	// Caption: a new image, the original kept.
	resp, body = app.Do(andy.Client, http.MethodPost, got.URL+"/caption", strings.NewReader(url.Values{"text": {"Open house Sunday"}, "position": {"bottom"}, "size": {"8"}, "color": {"#ffffff"}, "band": {"1"}, "band_color": {"#000000"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}, "Sec-Fetch-Site": {"same-origin"}})
	apptest.Expect(t, resp, body, http.StatusCreated)
	var capd struct{ ID, Alt string }
	_ = json.Unmarshal([]byte(body), &capd)
	if capd.ID == got.ID || capd.Alt != "Open house Sunday" {
		t.Fatalf("caption answer %s", body)
	}
	// A bad caption keeps what was typed.
	resp, body = app.Do(andy.Client, http.MethodPost, got.URL+"/caption", strings.NewReader(url.Values{"text": {"Sold"}, "size": {"99"}, "image_id": {got.ID}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "from 2 to 20") || !strings.Contains(body, `value="Sold"`) {
		t.Fatalf("bad caption: %d %s", resp.StatusCode, apptest.Trim(body))
	}

	// From a URL: the test's server is let through; a LAN address is not.
	pic := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		m := image.NewRGBA(image.Rect(0, 0, 20, 20))
		m.Set(1, 1, color.RGBA{255, 0, 0, 255})
		_ = jpeg.Encode(&b, m, nil)
		_, _ = w.Write(b.Bytes())
	}))
	defer pic.Close()
	resp = app.PostForm(andy.Client, "/w/"+ws.ID+"/images", url.Values{"url": {pic.URL + "/sign.jpg"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("fetch: %d", resp.StatusCode)
	}
	resp, body = app.Do(andy.Client, http.MethodPost, "/w/"+ws.ID+"/images", strings.NewReader(url.Values{"url": {"http://192.168.1.1/admin.png"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not a public internet address") || !strings.Contains(body, "192.168.1.1/admin.png") {
		t.Fatalf("LAN fetch: %d %s", resp.StatusCode, apptest.Trim(body))
	}
	_, body = app.Do(andy.Client, http.MethodGet, "/w/"+ws.ID+"/images", nil, nil)
	if strings.Count(body, `<img src="/w/`+ws.ID+`/images/`) != 3 || !strings.Contains(body, "caption “Open house Sunday”") {
		t.Fatalf("gallery: %s", apptest.Trim(body))
	}
	if !dbHas(t, app, "image.caption") || !dbHas(t, app, "image.fetch") {
		t.Fatal("no audit rows for caption and fetch")
	}
}
