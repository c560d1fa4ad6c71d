// The client-go rate limiter's wait, as a Prometheus histogram: where a
// request waits in this process before it reaches the API server.

package main

import (
	"context"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientmetrics "k8s.io/client-go/tools/metrics"
)

// registerRestClientMetrics registers rest_client_rate_limiter_duration_seconds
// (the name and labels component-base gives it) on registry and hands it to
// client-go, which observes every request of every client of the process.
// client-go takes the first registration only.
func registerRestClientMetrics(registry prometheus.Registerer) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rest_client_rate_limiter_duration_seconds",
		Help:    "Time a request to the API server waited in its client's rate limiter (--kube-api-qps, --kube-api-burst), by verb and host.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"verb", "host"})
	registry.MustRegister(h)
	clientmetrics.Register(clientmetrics.RegisterOpts{RateLimiterLatency: rateLimiterLatency{h}})
}

// rateLimiterLatency is client-go's LatencyMetric over a histogram.
type rateLimiterLatency struct{ h *prometheus.HistogramVec }

func (r rateLimiterLatency) Observe(_ context.Context, verb string, u url.URL, latency time.Duration) {
	r.h.WithLabelValues(verb, u.Host).Observe(latency.Seconds())
}
