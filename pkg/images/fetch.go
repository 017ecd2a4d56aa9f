package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// Resolver looks up a host's addresses; net.DefaultResolver is one, and
// tests give one that answers what they want.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Fetcher downloads an image from a URL a user typed, from the public
// internet only: the server must not become a way into the LAN (the
// router's admin page, the Pi's own services) or a cloud metadata service.
// Every address is checked after DNS, for the first request and for every
// redirect, and the connection goes to the very address that was checked
// (no second lookup an attacker's DNS could answer differently).
type Fetcher struct {
	// Resolver defaults to net.DefaultResolver.
	Resolver Resolver
	// Timeout bounds the whole fetch, redirects included (default 10 s).
	Timeout time.Duration
	// Allow lets these networks through although they are not public;
	// only tests set it, to reach a server on loopback.
	Allow []netip.Prefix
}

// MaxRedirects is how many redirects a fetch follows.
const MaxRedirects = 3

// blocked are the ranges that are not the public internet, beyond what
// netip.Addr's own predicates (loopback, private, link-local, multicast,
// unspecified) cover.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, Tailscale
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: an IPv4 address inside
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4: an IPv4 address inside
}

// Public reports whether a is an address on the public internet:
// not loopback, private, link-local (169.254.169.254, the metadata
// service, is link-local), multicast, unspecified or reserved.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

func (f *Fetcher) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range f.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return Public(a)
}

// errRefused is why a fetch was stopped before it connected.
type errRefused struct{ host, addr string }

func (e errRefused) Error() string {
	return fmt.Sprintf("%s is at %s, which is not a public internet address", e.host, e.addr)
}

func (f *Fetcher) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := f.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, fmt.Errorf("look up %s: %w", host, err)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("look up %s: no address", host)
	}
	// Every address must be public: a name with one public and one
	// private address would otherwise reach the LAN on a retry.
	for _, a := range addrs {
		if !f.allowed(a) {
			return nil, errRefused{host, a.String()}
		}
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// Fetch downloads the image at raw and returns its bytes, at most
// MaxInputBytes. Its errors are Invalid and say what went wrong in words
// for the page.
func (f *Fetcher) Fetch(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.New(errs.Invalid, "Give the image's full web address, starting with https://.")
	}
	if u.User != nil {
		return nil, errs.New(errs.Invalid, "The address holds a user name or password; leave them out.")
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // never a proxy from the environment: it would do the DNS
			DialContext:            f.dial,
			TLSHandshakeTimeout:    5 * time.Second,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
			DisableKeepAlives:      true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return fmt.Errorf("more than %d redirects", MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("a redirect to a %s: address", req.URL.Scheme)
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errs.New(errs.Invalid, "The address could not be used: %v.", err)
	}
	req.Header.Set("Accept", "image/*")
	req.Header.Set("User-Agent", "pi-crm image fetch")
	resp, err := client.Do(req)
	if err != nil {
		var ref errRefused
		switch {
		case errors.As(err, &ref):
			return nil, errs.New(errs.Invalid, "Not fetched: %s.", ref.Error())
		case errors.Is(err, context.DeadlineExceeded):
			return nil, errs.New(errs.Invalid, "Not fetched: the server did not answer within %s.", timeout)
		}
		return nil, errs.New(errs.Invalid, "Not fetched: %v.", unwrapURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errs.New(errs.Invalid, "Not fetched: the server answered %s.", resp.Status)
	}
	if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && n > MaxInputBytes {
		return nil, errs.New(errs.Invalid, "Not fetched: the image is larger than %d MB.", MaxInputBytes>>20)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxInputBytes+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, errs.New(errs.Invalid, "Not fetched: the download took longer than %s.", timeout)
		}
		return nil, errs.New(errs.Invalid, "Not fetched: %v.", err)
	}
	if len(b) > MaxInputBytes {
		return nil, errs.New(errs.Invalid, "Not fetched: the image is larger than %d MB.", MaxInputBytes>>20)
	}
	return b, nil
}

// unwrapURL drops *url.Error's "Get \"…\":" prefix, which repeats what the
// user typed.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
