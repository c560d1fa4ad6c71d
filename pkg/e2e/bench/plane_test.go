//go:build e2e && bench

// The harness's side of the plane: its clients and their settings, the
// seed tasks it creates (in parallel, at a rate), cleaning up after a run,
// and the controller under test with a run's settings.

package bench

import (
	"context"
	"fmt"
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
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/e2e/framework"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
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
// waits for it to be ready. It runs without leader election, so it never
// holds the Lease, and ready means its caches synced.
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
		if p.Ready(ctx) {
			return p, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("controller (%s) not ready within a minute; log %s", s, p.Log)
}
