package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
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

// newReadiness is not ready until set, except under leader election: a
// standby is ready, having nothing to sync until it leads (runController
// then makes readiness wait for the caches). Were it not, a Deployment of
// two replicas would never be Available in full and a rolling update would
// wait forever on a new standby.
func newReadiness(leaderElect bool) *readiness {
	r := &readiness{}
	if leaderElect {
		r.set(func() bool { return true })
	}
	return r
}

func (r *readiness) set(f func() bool) { r.synced.Store(&f) }

func (r *readiness) ready() bool {
	f := r.synced.Load()
	return f != nil && (*f)()
}

// endpoints are the HTTP servers of the process (metrics, probes), each
// already bound to its address.
type endpoints struct {
	servers   []*http.Server
	listeners []net.Listener
}

// listenHTTP binds the metrics and probe addresses ("0" disables one). It
// binds them all before anything is served, so an address in use stops the
// process at start-up with a clear error instead of a controller running
// without its metrics.
func listenHTTP(opts options, registry *prometheus.Registry, ready *readiness) (*endpoints, error) {
	e := &endpoints{}
	add := func(what, addr string, handler http.Handler) error {
		if addr == "0" {
			return nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("bind the %s address %s: %w", what, addr, err)
		}
		e.listeners = append(e.listeners, l)
		e.servers = append(e.servers, &http.Server{Addr: l.Addr().String(), Handler: handler, ReadHeaderTimeout: 10 * time.Second})
		return nil
	}
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	if opts.profiling {
		servePprof(metrics)
	}
	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	probes.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.ready() {
			http.Error(w, "caches not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	err := errors.Join(
		add("metrics (--metrics-bind-address)", opts.metricsBindAddress, metrics),
		add("health probe (--health-probe-bind-address)", opts.healthProbeBindAddress, probes),
	)
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// servePprof serves Go's runtime profiles under /debug/pprof/ on mux (the
// index there lists them; go tool pprof reads /debug/pprof/heap and
// /debug/pprof/profile).
func servePprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

func (e *endpoints) close() {
	for _, l := range e.listeners {
		_ = l.Close()
	}
}

// serve serves every endpoint until ctx is done, then shuts them down.
func (e *endpoints) serve(ctx context.Context) error {
	errs := make(chan error, len(e.servers))
	for i, srv := range e.servers {
		go func() {
			klog.FromContext(ctx).Info("Serving", "address", srv.Addr)
			if err := srv.Serve(e.listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
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
	for _, srv := range e.servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	return nil
}
