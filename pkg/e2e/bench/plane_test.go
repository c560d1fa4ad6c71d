//go:build e2e && bench

package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/e2e/framework"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
	"kusciatask.io/controller/pkg/podgroup"
)

// Content types a client can speak to the API server for built-in types.
const (
	contentProtobuf = "application/vnd.kubernetes.protobuf"
	contentJSON     = "application/json"
)

// clientSettings are what both the controller and the bare loop are given.
type clientSettings struct {
	name         string
	qps          float32
	burst        int
	reservations bool // the reservation gate on
}

// slug names the settings in a file name: "default-gate-on".
func (s clientSettings) slug() string {
	gate := "off"
	if s.reservations {
		gate = "on"
	}
	return s.name + "-gate-" + gate
}

func (s clientSettings) String() string {
	gateState := "gate on"
	if !s.reservations {
		gateState = "gate off"
	}
	return fmt.Sprintf("%s (QPS %g/burst %d, %s)", s.name, s.qps, s.burst, gateState)
}

// adminConfig is the harness's own client configuration: admin, fast
// enough never to be the limit, protobuf for built-in types.
func adminConfig(contentType string, qps float32, burst int) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", env.plane.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	if contentType == contentProtobuf {
		cfg.ContentType = contentProtobuf
		cfg.AcceptContentTypes = contentProtobuf + "," + contentJSON
	}
	return cfg, nil
}

// benchClients are the harness's clients.
type benchClients struct {
	kube   kubernetes.Interface
	kuscia versioned.Interface
}

func newBenchClients() (*benchClients, error) {
	cfg, err := adminConfig(contentProtobuf, 5000, 10000)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube client: %w", err)
	}
	// Custom resources are JSON only.
	jsonCfg := rest.CopyConfig(cfg)
	jsonCfg.ContentType, jsonCfg.AcceptContentTypes = "", ""
	kuscia, err := versioned.NewForConfig(jsonCfg)
	if err != nil {
		return nil, fmt.Errorf("kuscia client: %w", err)
	}
	return &benchClients{kube: kube, kuscia: kuscia}, nil
}

// seedTasks are n two-party seed PSI tasks named prefix-0..n-1 whose pods
// do what outcome says (KWOK_OUTCOME: "run" stays Running; "" succeeds
// after KWOK_DELAY delay, "" meaning kwok's default).
func seedTasks(prefix string, n int, outcome, delay string) ([]*kusciav1alpha1.KusciaTask, error) {
	var podEnv []corev1.EnvVar
	if outcome != "" {
		podEnv = append(podEnv, corev1.EnvVar{Name: "KWOK_OUTCOME", Value: outcome})
	}
	if delay != "" {
		podEnv = append(podEnv, corev1.EnvVar{Name: "KWOK_DELAY", Value: delay})
	}
	tasks := make([]*kusciav1alpha1.KusciaTask, 0, n)
	for i := range n {
		task, err := examples.Task(examples.PSITaskFile)
		if err != nil {
			return nil, fmt.Errorf("seed task: %w", err)
		}
		task.UID = ""
		task.Name = fmt.Sprintf("%s-%d", prefix, i)
		for p := range task.Spec.Parties {
			task.Spec.Parties[p].Template = &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
				Containers: []kusciav1alpha1.Container{{Name: "secretflow", Env: podEnv}},
			}}
		}
		tasks = append(tasks, task)
	}
	return tasks, nil
}

// parallel runs do for every item from workers goroutines, at most rate
// starts per second when rate > 0, and returns the first error.
func parallel[T any](items []T, workers int, rate float64, do func(T) error) error {
	work := make(chan T)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range work {
				if err := do(item); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
	}
	for _, item := range items {
		if tick != nil {
			<-tick.C
		}
		work <- item
	}
	close(work)
	wg.Wait()
	return firstErr
}

// createTasks creates the tasks from 4 goroutines with the harness's fast
// client, at most rate per second when rate > 0.
func (c *benchClients) createTasks(ctx context.Context, tasks []*kusciav1alpha1.KusciaTask, rate float64) error {
	return parallel(tasks, 4, rate, func(task *kusciav1alpha1.KusciaTask) error {
		_, err := c.kuscia.KusciaV1alpha1().KusciaTasks().Create(ctx, task, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create task %s: %w", task.Name, err)
		}
		return nil
	})
}

// bareLoop is the baseline: a client-go loop creating exactly the objects
// the controller would for each task (config maps, headless services,
// PodGroups when served, pods with the gate when it is on), with the given
// client, from 4 goroutines. Its pods are created with the gate already
// open, so kwok starts them at binding: the controller's gate-opening
// patches are its own extra work.
type bareLoop struct {
	kube      kubernetes.Interface
	images    map[string]*kusciav1alpha1.AppImage
	domains   map[string]*corev1.Namespace
	policy    builder.Policy
	podGroups bool
}

func newBareLoop(ctx context.Context, s clientSettings, contentType string) (*bareLoop, error) {
	cfg, err := adminConfig(contentType, s.qps, s.burst)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("baseline client: %w", err)
	}
	images, err := examples.AppImages()
	if err != nil {
		return nil, err
	}
	domains, err := examples.Domains()
	if err != nil {
		return nil, err
	}
	served, err := podgroup.Served(ctx, kube.Discovery())
	if err != nil {
		return nil, err
	}
	policy := builder.Policy{PodGroups: served}
	if s.reservations {
		policy.Gate = builder.GatePolicy{Image: gate.DefaultImage()}
	}
	return &bareLoop{kube: kube, images: images, domains: domains, policy: policy, podGroups: served}, nil
}

func (l *bareLoop) run(ctx context.Context, tasks []*kusciav1alpha1.KusciaTask) error {
	return parallel(tasks, 4, 0, func(task *kusciav1alpha1.KusciaTask) error {
		return l.createChildren(ctx, task)
	})
}

func (l *bareLoop) createChildren(ctx context.Context, task *kusciav1alpha1.KusciaTask) error {
	task = task.DeepCopy()
	task.UID = types.UID("bench-" + task.Name)
	plan, err := builder.PlanTask(task, builder.Inputs{AppImages: l.images, Namespaces: l.domains, Policy: l.policy, Start: time.Now()})
	if err != nil {
		return fmt.Errorf("plan %s: %w", task.Name, err)
	}
	parties, err := builder.BuildTask(ctx, task, plan, 1)
	if err != nil {
		return fmt.Errorf("build %s: %w", task.Name, err)
	}
	core := l.kube.CoreV1()
	for _, objs := range parties {
		for _, cm := range objs.ConfigMaps {
			cm.OwnerReferences = nil
			if _, err := core.ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create config map %s: %w", cm.Name, err)
			}
		}
		for _, svc := range objs.Services {
			svc.OwnerReferences = nil
			if _, err := core.Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create service %s: %w", svc.Name, err)
			}
		}
		if pg := objs.PodGroup; pg != nil {
			pg.OwnerReferences = nil
			if _, err := l.kube.SchedulingV1beta1().PodGroups(pg.Namespace).Create(ctx, pg, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create pod group %s: %w", pg.Name, err)
			}
		}
		for _, pod := range objs.Pods {
			pod.OwnerReferences = nil
			if l.policy.Gate.Enabled() {
				pod.Annotations[gate.Annotation] = gate.Open
			}
			if _, err := core.Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create pod %s: %w", pod.Name, err)
			}
		}
	}
	return nil
}

// cleanUp deletes the tasks (the garbage collector takes their children)
// and the bare loop's ownerless objects, then waits, on the watches, for
// every pod and task of the tally's prefix to be gone.
func (c *benchClients) cleanUp(ctx context.Context, w *benchWatch, tasks []*kusciav1alpha1.KusciaTask) error {
	err := parallel(tasks, 8, 0, func(task *kusciav1alpha1.KusciaTask) error {
		return ignoreNotFound(c.kuscia.KusciaV1alpha1().KusciaTasks().Delete(ctx, task.Name, metav1.DeleteOptions{}))
	})
	if err != nil {
		return err
	}
	// The bare loop's objects have no owner for the garbage collector to
	// follow: delete them one by one.
	bySel := metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask}
	for _, ns := range []string{"alice", "bob"} {
		pods, err := c.kube.CoreV1().Pods(ns).List(ctx, bySel)
		if err != nil {
			return fmt.Errorf("list pods: %w", err)
		}
		for _, p := range pods.Items {
			if len(p.OwnerReferences) == 0 {
				if err := ignoreNotFound(c.kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})); err != nil {
					return err
				}
			}
		}
		if err := c.deleteOwnerless(ctx, ns, bySel); err != nil {
			return err
		}
	}
	err = w.waitUntil(ctx, 10*time.Minute, "the run's pods and tasks to be gone", func(c counts) bool {
		return c.present == 0 && c.tasks == 0
	})
	if err != nil {
		return err
	}
	return c.waitCollected(ctx, bySel)
}

// waitCollected polls, once a second, until the garbage collector has
// deleted every service, config map and PodGroup of the bench and
// kube-controller-manager every endpoint slice of those services: a run
// must not share the plane with the last run's clean-up.
func (c *benchClients) waitCollected(ctx context.Context, bySel metav1.ListOptions) error {
	one := bySel
	one.Limit = 1
	slices := metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName, Limit: 1}
	left := func(ns string) (string, error) {
		for _, l := range []struct {
			what string
			list func() (runtime.Object, error)
		}{
			{"services", func() (runtime.Object, error) { return c.kube.CoreV1().Services(ns).List(ctx, one) }},
			{"config maps", func() (runtime.Object, error) { return c.kube.CoreV1().ConfigMaps(ns).List(ctx, one) }},
			{"endpoint slices", func() (runtime.Object, error) { return c.kube.DiscoveryV1().EndpointSlices(ns).List(ctx, slices) }},
			{"PodGroups", func() (runtime.Object, error) { return c.kube.SchedulingV1beta1().PodGroups(ns).List(ctx, one) }},
		} {
			obj, err := l.list()
			if apierrors.IsNotFound(err) {
				continue // PodGroups not served
			}
			if err != nil {
				return "", fmt.Errorf("list %s in %s: %w", l.what, ns, err)
			}
			if meta.LenList(obj) > 0 {
				return l.what + " in " + ns, nil
			}
		}
		return "", nil
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var waiting string
		for _, ns := range []string{"alice", "bob"} {
			w, err := left(ns)
			if err != nil {
				return err
			}
			if w != "" {
				waiting = w
				break
			}
		}
		if waiting == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the garbage collector left %s after 10 minutes", waiting)
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deleteOwnerless deletes the bare loop's services, config maps and
// PodGroups (the only ones without an owner).
func (c *benchClients) deleteOwnerless(ctx context.Context, ns string, sel metav1.ListOptions) error {
	svcs, err := c.kube.CoreV1().Services(ns).List(ctx, sel)
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	if err := deleteEach(ctx, unowned(svcs.Items), c.kube.CoreV1().Services(ns).Delete); err != nil {
		return err
	}
	cms, err := c.kube.CoreV1().ConfigMaps(ns).List(ctx, sel)
	if err != nil {
		return fmt.Errorf("list config maps: %w", err)
	}
	if err := deleteEach(ctx, unowned(cms.Items), c.kube.CoreV1().ConfigMaps(ns).Delete); err != nil {
		return err
	}
	pgs, err := c.kube.SchedulingV1beta1().PodGroups(ns).List(ctx, sel)
	if err != nil {
		return nil // PodGroups not served: nothing to delete
	}
	return deleteEach(ctx, unowned(pgs.Items), c.kube.SchedulingV1beta1().PodGroups(ns).Delete)
}

// unowned names the items that have no owner.
func unowned[T any, PT interface {
	*T
	metav1.Object
}](items []T) []string {
	var names []string
	for i := range items {
		if obj := PT(&items[i]); len(obj.GetOwnerReferences()) == 0 {
			names = append(names, obj.GetName())
		}
	}
	return names
}

// deleteEach deletes the named objects; one already gone is no error.
func deleteEach(ctx context.Context, names []string, del func(context.Context, string, metav1.DeleteOptions) error) error {
	for _, name := range names {
		if err := ignoreNotFound(del(ctx, name, metav1.DeleteOptions{})); err != nil {
			return err
		}
	}
	return nil
}

func ignoreNotFound(err error) error {
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// benchController starts the controller under test as a process of its own
// with the given settings and 4 workers (its log: _output/bench/controller.log), after stopping the one before, and
// waits for it to be ready.
func benchController(ctx context.Context, s clientSettings) (*framework.Controller, error) {
	env.controller.Stop(syscall.SIGTERM)
	// Outside the state folder, which local-up removes on stop.
	p := env.plane.Controller(filepath.Join(env.root, "_output", "bench", "controller.log"))
	p.ExtraArgs = []string{
		"--leader-elect=false", "--workers=4",
		"--kube-api-qps=" + strconv.FormatFloat(float64(s.qps), 'f', -1, 32),
		"--kube-api-burst=" + strconv.Itoa(s.burst),
		"--reservation-gate=" + strconv.FormatBool(s.reservations),
	}
	// BENCH_CONTROLLER_ARGS: more flags, e.g. -v=4 to see requeues.
	p.ExtraArgs = append(p.ExtraArgs, strings.Fields(os.Getenv("BENCH_CONTROLLER_ARGS"))...)
	if err := p.Start(); err != nil {
		return nil, err
	}
	env.controller = p
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if p.Leading(ctx) {
			return p, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("controller (%s) not ready within a minute; log %s", s, p.Log)
}

// saveURL is httpOK that also writes the body to path (when it is OK).
func saveURL(ctx context.Context, url, path string) bool {
	body, ok := getURL(ctx, url)
	return ok && os.WriteFile(path, body, 0o644) == nil
}

// getURL is the body of a GET of url, and whether it answered 200 OK.
func getURL(ctx context.Context, url string) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, err == nil && resp.StatusCode == http.StatusOK
}

func httpOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics reads the Prometheus text format: comments are skipped,
// label values are unquoted (escapes kept as is: none of the labels read
// here has any).
func parseMetrics(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %q: unbalanced braces", line)
			}
			s.name, rest = line[:i], strings.TrimSpace(line[j+1:])
			for _, kv := range splitLabels(line[i+1 : j]) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("metrics line %q: label %q", line, kv)
				}
				s.labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
			}
		} else {
			var ok bool
			s.name, rest, ok = strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("metrics line %q: no value", line)
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics line %q: no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// splitLabels splits `a="x",b="y,z"` at the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

// sum adds the values of the samples named name whose labels include want.
func sum(samples []sample, name string, want map[string]string) float64 {
	var total float64
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			total += s.value
		}
	}
	return total
}

// apiserverMetrics scrapes the kube-apiserver's /metrics.
func (c *benchClients) apiserverMetrics(ctx context.Context) ([]sample, error) {
	body, err := c.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scrape kube-apiserver /metrics: %w", err)
	}
	return parseMetrics(strings.NewReader(string(body)))
}

// controllerMetrics scrapes the controller's /metrics.
func controllerMetrics(ctx context.Context) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+framework.MetricsAddress+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape controller /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape controller /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// rssBytes is a process's resident set (VmRSS in /proc/PID/status).
func rssBytes(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read controller status: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			kb, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
