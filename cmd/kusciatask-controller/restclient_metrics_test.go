package main

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimiterLatency(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rest_client_rate_limiter_duration_seconds"}, []string{"verb", "host"})
	reg.MustRegister(h)
	r := rateLimiterLatency{h}
	r.Observe(context.Background(), "PUT", url.URL{Host: "api:6443"}, 3*time.Millisecond)
	r.Observe(context.Background(), "POST", url.URL{Host: "api:6443"}, time.Millisecond)
	n, err := testutil.GatherAndCount(reg, "rest_client_rate_limiter_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "one series per verb and host")
}
