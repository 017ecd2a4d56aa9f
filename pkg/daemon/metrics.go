package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go and process collectors and
// picrm_build_info for binary at version. Each process owns its registry;
// nothing registers globally.
func NewRegistry(binary, version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "picrm_build_info",
		Help: "Build of the running pi-crm binary; always 1.",
	}, []string{"binary", "version"})
	info.WithLabelValues(binary, version).Set(1)
	reg.MustRegister(info)
	return reg
}

// MetricsHandler serves reg in the Prometheus text format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// MetricsServer serves /metrics on one listener.
type MetricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// ListenMetrics starts serving reg's /metrics on addr. It returns once the
// port is bound, so READY can follow.
func ListenMetrics(log *slog.Logger, addr string, reg *prometheus.Registry) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", MetricsHandler(reg))
	s := &MetricsServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", logkey.Err, err)
		}
	}()
	return s, nil
}

// Addr returns the address actually bound (useful with port 0).
func (s *MetricsServer) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the server, waiting for in-flight scrapes until ctx ends.
func (s *MetricsServer) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop metrics server: %w", err)
	}
	return nil
}
