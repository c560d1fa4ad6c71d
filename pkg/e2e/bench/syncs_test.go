//go:build e2e && bench

// Syncs per task, split by cause (T2, T4 under load), and quantiles of the
// controller's histograms over a run (where a T4 reaction waits): both
// read from the controller's /metrics before and after a run.

package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// maxSyncsPerTask is issue 23's target for a straight-through two-party
// task.
const maxSyncsPerTask = 10

// syncCauses are the cause label values of kusciatask_syncs_by_cause_total.
var syncCauses = []string{"task", "resync", "pod", "service", "configmap", "podgroup", "referrer", "timer", "retry", "unknown"}

// addSyncs adds the syncs per task between two scrapes of the controller
// (every result), with a target when target is set, and the split by
// cause: a sync counts once under each cause it had, so the causes may
// sum to more than the syncs.
func (b *bench) addSyncs(label string, tasks int, before, after []sample, target bool) {
	per := func(name string, labels map[string]string) float64 {
		return (sum(after, name, labels) - sum(before, name, labels)) / float64(tasks)
	}
	f := figure{Name: fmt.Sprintf("%s syncs per task", label), Value: per("kusciatask_sync_duration_seconds_count", nil)}
	if target {
		f.Target = fmt.Sprintf("≤ %d", maxSyncsPerTask)
		b.add(f, func(f figure) bool { return f.Value <= maxSyncsPerTask })
	} else {
		b.add(f, nil)
	}
	for _, c := range syncCauses {
		if v := per("kusciatask_syncs_by_cause_total", map[string]string{"cause": c}); v > 0 {
			b.add(figure{Name: fmt.Sprintf("%s syncs per task caused by %s (a sync counts once per cause)", label, c), Value: v}, nil)
		}
	}
}

// histogramQuantile is the q-quantile of a Prometheus histogram over the
// interval between two scrapes (the upper bound of the bucket it falls
// in, as the buckets say no more), in ms; 0 when nothing was observed,
// and the largest finite bound when it falls beyond it.
func histogramQuantile(before, after []sample, name string, labels map[string]string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var buckets []bucket
	seen := map[string]bool{}
	for _, s := range after {
		if s.name != name+"_bucket" || !matches(s.labels, labels) || seen[s.labels["le"]] {
			continue
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			continue
		}
		// Every series of the bucket (other labels summed), once.
		seen[s.labels["le"]] = true
		bl := map[string]string{"le": s.labels["le"]}
		for k, v := range labels {
			bl[k] = v
		}
		buckets = append(buckets, bucket{le: le, n: sum(after, name+"_bucket", bl) - sum(before, name+"_bucket", bl)})
	}
	slices.SortFunc(buckets, func(a, b bucket) int {
		switch {
		case a.le < b.le:
			return -1
		case a.le > b.le:
			return 1
		}
		return 0
	})
	if len(buckets) == 0 || buckets[len(buckets)-1].n <= 0 {
		return 0
	}
	want := q * buckets[len(buckets)-1].n
	var finite float64
	for _, b := range buckets {
		if math.IsInf(b.le, 1) {
			break
		}
		finite = b.le
		if b.n >= want {
			return b.le * 1000
		}
	}
	return finite * 1000
}

// matches reports whether labels has every entry of want.
func matches(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}
