// Package netguard keeps crm-web on the home network: it answers 403 to any
// client outside the allowed networks before a handler runs, redirects plain
// HTTP to HTTPS, and adds HSTS to HTTPS answers.
package netguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultNets are loopback, the private IPv4 and IPv6 ranges, link-local
// and Tailscale's CGNAT range 100.64.0.0/10.
const DefaultNets = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,169.254.0.0/16,fc00::/7,fe80::/10,100.64.0.0/10"

// ParseNets parses a comma- or space-separated list of CIDR prefixes.
func ParseNets(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network such as 192.168.1.0/24", f)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no network given")
	}
	return out, nil
}

// Allowed reports whether the client address (host:port, as in
// http.Request.RemoteAddr) is inside one of nets.
func Allowed(nets []netip.Prefix, remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	var addr netip.Addr
	if err == nil {
		addr = ap.Addr()
	} else if addr, err = netip.ParseAddr(remoteAddr); err != nil {
		return false
	}
	addr = addr.Unmap() // ::ffff:192.168.1.5 is 192.168.1.5
	for _, p := range nets {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Guard answers 403 to clients outside nets. It trusts only the TCP peer
// address, never a forwarding header: the Pi is reached directly or through
// Tailscale, whose peers keep their own 100.64.0.0/10 addresses.
func Guard(nets []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Allowed(nets, r.RemoteAddr) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintln(w, "pi-crm answers only its home network (PICRM_ALLOWED_NETS).")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HSTS adds Strict-Transport-Security to answers over TLS. It leaves out
// includeSubDomains: the Pi's name may sit beside other LAN hosts.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// RedirectHTTPS answers every plain-HTTP request with a permanent redirect
// to the same path over HTTPS on httpsPort ("443" leaves the port out).
func RedirectHTTPS(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if strings.Contains(host, ":") { // an IPv6 literal
			host = "[" + host + "]"
		}
		if httpsPort != "443" {
			host += ":" + httpsPort
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}
