package daemon

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/coreos/go-systemd/v22/activation"
)

// Listeners are the sockets a web daemon serves.
type Listeners struct {
	// App serves the application: HTTPS with a certificate, else HTTP.
	App net.Listener
	// Redirect, with a certificate, is plain HTTP to answer with a
	// redirect to HTTPS; nil otherwise.
	Redirect net.Listener
	// Scheme is "https" or "http", what App speaks.
	Scheme string
}

// Close closes both listeners.
func (l Listeners) Close() {
	if l.App != nil {
		l.App.Close()
	}
	if l.Redirect != nil {
		l.Redirect.Close()
	}
}

// Listen takes the sockets systemd passed (socket activation: 443 and 80),
// else listens on httpsAddr and httpAddr (PICRM_HTTPS_ADDR and
// PICRM_HTTP_ADDR). Without a certificate it serves plain HTTP on
// the first activated socket or httpAddr; with one, port 80 (or httpAddr)
// gets the redirect.
func Listen(httpAddr, httpsAddr string, cert *tls.Certificate) (Listeners, error) {
	lns, err := activation.Listeners()
	if err != nil {
		return Listeners{}, fmt.Errorf("socket activation: %w", err)
	}
	var app, plain net.Listener
	for _, ln := range lns {
		if ln == nil {
			continue
		}
		if _, port, _ := net.SplitHostPort(ln.Addr().String()); port == "80" && cert != nil {
			plain = ln
		} else if app == nil {
			app = ln
		}
	}
	if app == nil {
		addr, name := httpAddr, "PICRM_HTTP_ADDR"
		if cert != nil {
			addr, name = httpsAddr, "PICRM_HTTPS_ADDR"
		}
		if app, err = net.Listen("tcp", addr); err != nil {
			return Listeners{}, fmt.Errorf("listen on %s (%s): %w", addr, name, err)
		}
		if cert != nil && plain == nil {
			if plain, err = net.Listen("tcp", httpAddr); err != nil {
				app.Close()
				return Listeners{}, fmt.Errorf("listen on %s (PICRM_HTTP_ADDR): %w", httpAddr, err)
			}
		}
	}
	if cert == nil {
		return Listeners{App: app, Scheme: "http"}, nil
	}
	return Listeners{Scheme: "https", Redirect: plain,
		App: tls.NewListener(app, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})}, nil
}
