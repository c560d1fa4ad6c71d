package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
)

// readiness is ready once the controller's caches have synced.
type readiness struct {
	synced atomic.Pointer[func() bool]
}

func (r *readiness) set(f func() bool) { r.synced.Store(&f) }

func (r *readiness) ready() bool {
	f := r.synced.Load()
	return f != nil && (*f)()
}

// serveHTTP serves /metrics and the probes until ctx is done.
func serveHTTP(ctx context.Context, opts options, registry *prometheus.Registry, ready *readiness) error {
	var servers []*http.Server
	if opts.metricsBindAddress != "0" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
		servers = append(servers, &http.Server{Addr: opts.metricsBindAddress, Handler: mux, ReadHeaderTimeout: 10 * time.Second})
	}
	if opts.healthProbeBindAddress != "0" {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !ready.ready() {
				http.Error(w, "caches not synced", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		servers = append(servers, &http.Server{Addr: opts.healthProbeBindAddress, Handler: mux, ReadHeaderTimeout: 10 * time.Second})
	}
	errs := make(chan error, len(servers))
	for _, srv := range servers {
		go func() {
			klog.FromContext(ctx).Info("Serving", "address", srv.Addr)
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("serve %s: %w", srv.Addr, err)
			}
		}()
	}
	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	return nil
}
