//go:build e2e && bench

// TestBench, which runs T1–T4 in turn, the run's sizes from the environment
// (BENCH_*), and its results: one table, printed and written with the
// figures to _output/bench/results.txt and results.json.

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"

	"kusciatask.io/controller/pkg/e2e/framework"
)

// TestBench measures issue 10's figures T1–T4 on the e2e control plane (run
// it with `make bench`, or `make bench N=200` for a quick run):
//
//   - T1 throughput: N two-party tasks from nothing to every pod Running,
//     the controller vs a bare client-go loop creating the same objects
//     (t1_test.go);
//   - T2 writes: API server writes per task run to Succeeded, and on a
//     no-op (t2_test.go);
//   - T3 scale: controller memory per finished task held, and the cost of
//     one sync at 100 vs K tasks (t3_test.go);
//   - T4 reaction: a task's last pod Succeeded → the task Succeeded
//     (t4_test.go).
//
// Sizes come from the environment (see benchConfigFromEnv). It prints one
// table and writes _output/bench/results.json and results.txt.
func TestBench(t *testing.T) {
	cfg, err := benchConfigFromEnv()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Minute)
	defer cancel()
	clients, err := newBenchClients()
	require.NoError(t, err)
	watch, err := startBenchWatch(ctx, clients.kube, clients.kuscia)
	require.NoError(t, err)
	b := &bench{cfg: cfg, clients: clients, watch: watch, started: time.Now()}
	phases := []struct {
		name string
		run  func(context.Context) error
	}{
		{"T1", b.throughput},
		{"T2", b.writes},
		{"T4", b.reaction},
		{"T3", b.scale},
	}
	for _, p := range phases {
		if !cfg.runs(p.name) {
			continue
		}
		start := time.Now()
		t.Logf("%s: starting", p.name)
		err := p.run(ctx)
		// Written after every phase, so an interrupted run keeps what it
		// measured.
		table := b.writeResults(t)
		if err != nil {
			t.Fatalf("%s: %v\n%s", p.name, err, table)
		}
		t.Logf("%s: done in %s", p.name, time.Since(start).Round(time.Second))
	}
	t.Log("\n" + b.writeResults(t))
}

// benchConfig are the sizes of a run.
type benchConfig struct {
	// N: tasks of T1. M: tasks of T2. K: finished tasks of T3. R: syncs
	// timed per T3 point. Reaction: tasks of T4, created at ReactionRate/s.
	N, M, K, R    int
	Reaction      int
	ReactionRate  float64
	ContentTypes  []string // the bare loop's, for built-in types; the first gives the ratio
	Phases        []string // which of T1..T4 run
	SucceededPass bool     // T1 also times every task Succeeded
}

// benchConfigFromEnv reads BENCH_N (default 1000), BENCH_M (min(N,50)),
// BENCH_K (10×N, at most 10,000), BENCH_R (50), BENCH_T4_TASKS (max(N,200)
// capped at 1000), BENCH_T4_RATE (tasks per second, 5), BENCH_CONTENT_TYPES
// (protobuf,json), BENCH_PHASES (T1,T2,T3,T4).
func benchConfigFromEnv() (benchConfig, error) {
	n, err := intEnv("BENCH_N", 1000)
	if err != nil {
		return benchConfig{}, err
	}
	c := benchConfig{N: n, ReactionRate: 5, SucceededPass: true}
	if c.M, err = intEnv("BENCH_M", min(n, 50)); err != nil {
		return c, err
	}
	if c.K, err = intEnv("BENCH_K", benchDefaultK(n)); err != nil {
		return c, err
	}
	if c.R, err = intEnv("BENCH_R", 50); err != nil {
		return c, err
	}
	if c.Reaction, err = intEnv("BENCH_T4_TASKS", min(max(n, 200), 1000)); err != nil {
		return c, err
	}
	if rate := os.Getenv("BENCH_T4_RATE"); rate != "" {
		if c.ReactionRate, err = strconv.ParseFloat(rate, 64); err != nil || c.ReactionRate <= 0 {
			return c, fmt.Errorf("BENCH_T4_RATE: %q is not a positive number", rate)
		}
	}
	for _, ct := range strings.Split(framework.EnvOr("BENCH_CONTENT_TYPES", "protobuf,json"), ",") {
		switch strings.TrimSpace(ct) {
		case "protobuf":
			c.ContentTypes = append(c.ContentTypes, contentProtobuf)
		case "json":
			c.ContentTypes = append(c.ContentTypes, contentJSON)
		default:
			return c, fmt.Errorf("BENCH_CONTENT_TYPES: %q is neither protobuf nor json", ct)
		}
	}
	c.Phases = strings.Split(framework.EnvOr("BENCH_PHASES", "T1,T2,T3,T4"), ",")
	return c, nil
}

func (c benchConfig) runs(phase string) bool {
	for _, p := range c.Phases {
		if strings.EqualFold(strings.TrimSpace(p), phase) {
			return true
		}
	}
	return false
}

func intEnv(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", key, v)
	}
	return n, nil
}

// bench is one run's state and results.
type bench struct {
	cfg     benchConfig
	clients *benchClients
	watch   *benchWatch
	started time.Time
	figures []figure
	runs    int // names each run's objects apart
}

// figure is one row of the table. Baseline and Target are optional (0 and
// "" mean none); Ratio is Value/Baseline when there is a baseline.
type figure struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline float64 `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Target   string  `json:"target,omitempty"`
	// OK is "yes"/"no" against the target, "" when there is none.
	OK string `json:"ok,omitempty"`
}

// add records a figure; within reports whether it meets its target.
func (b *bench) add(f figure, within func(figure) bool) {
	if f.Baseline > 0 {
		f.Ratio = f.Value / f.Baseline
	}
	if within != nil {
		f.OK = "no"
		if within(f) {
			f.OK = "yes"
		}
	}
	b.figures = append(b.figures, f)
}

// prefix names the objects of a new run: never reused, so the watches
// never confuse two runs.
func (b *bench) prefix(what string) string {
	b.runs++
	return fmt.Sprintf("b%d-%s", b.runs, what)
}

// results is what results.json holds.
type results struct {
	Figures []figure     `json:"figures"`
	Config  benchConfig  `json:"config"`
	Machine machineFacts `json:"machine"`
}

type machineFacts struct {
	NProc     int    `json:"nproc"`
	GoVersion string `json:"goVersion"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	Duration  string `json:"duration"`
}

// writeResults writes results.json and results.txt, and returns the table.
func (b *bench) writeResults(t *testing.T) string {
	commit, _ := exec.Command("git", "-C", env.root, "rev-parse", "HEAD").Output()
	r := results{Figures: b.figures, Config: b.cfg, Machine: machineFacts{
		NProc: runtime.NumCPU(), GoVersion: runtime.Version(), Commit: strings.TrimSpace(string(commit)),
		Date: b.started.UTC().Format(time.RFC3339), Duration: time.Since(b.started).Round(time.Second).String(),
	}}
	dir := filepath.Join(env.root, "_output", "bench")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	data, err := json.MarshalIndent(r, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "results.json"), data, 0o644))
	table := formatTable(r)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "results.txt"), []byte(table), 0o644))
	return table
}

// formatTable renders the figures as one aligned table.
func formatTable(r results) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "N=%d M=%d K=%d T4 tasks=%d; %d CPUs, %s, commit %.12s, %s, took %s\n",
		r.Config.N, r.Config.M, r.Config.K, r.Config.Reaction, r.Machine.NProc, r.Machine.GoVersion,
		r.Machine.Commit, r.Machine.Date, r.Machine.Duration)
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "figure\tvalue\tbaseline\tratio\ttarget\tok")
	for _, f := range r.Figures {
		baseline, ratio := "-", "-"
		if f.Baseline > 0 {
			baseline = formatValue(f.Baseline, f.Unit)
			ratio = fmt.Sprintf("%.2f", f.Ratio)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, formatValue(f.Value, f.Unit), baseline, ratio,
			orDash(f.Target), orDash(f.OK))
	}
	_ = w.Flush()
	return sb.String()
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "s":
		return fmt.Sprintf("%.1f s", v)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "µs":
		return fmt.Sprintf("%.0f µs", v)
	case "MB":
		return fmt.Sprintf("%.1f MB", v)
	case "KB":
		return fmt.Sprintf("%.1f KB", v)
	case "":
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
