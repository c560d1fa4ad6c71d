//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// BenchmarkThroughput measures, on the real control plane, how long it takes
// from nothing to every pod of n two-party PSI tasks Running:
//
//   - baseline: a bare client-go loop (4 goroutines) creates exactly the
//     objects the controller would (config maps, headless services, pods);
//   - controller: the tasks are applied and the controller does the rest.
//
// Both include the scheduler and kwok. Read the ratio of the two ns/op from
// the same run: it is the controller's overhead over the API work it must
// do anyway. Run with `make bench` (or -bench Throughput -tags e2e).
func BenchmarkThroughput(b *testing.B) {
	const n = 40
	ctx := context.Background()
	for _, mode := range []string{"baseline", "controller"} {
		b.Run(fmt.Sprintf("%s/tasks=%d", mode, n), func(b *testing.B) {
			for i := range b.N {
				prefix := fmt.Sprintf("bench-%s-%d", mode, i)
				tasks := benchTasks(b, prefix, n)
				start := time.Now()
				if mode == "baseline" {
					createChildrenDirectly(b, ctx, tasks)
				} else {
					for _, task := range tasks {
						_, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Create(ctx, task, metav1.CreateOptions{})
						require.NoError(b, err)
					}
				}
				waitPodsRunning(b, ctx, prefix, 2*n)
				b.ReportMetric(float64(10*n)/time.Since(start).Seconds(), "objects/s")
				b.StopTimer()
				cleanUpBench(b, ctx, prefix, tasks)
				b.StartTimer()
			}
		})
	}
}

func benchTasks(b *testing.B, prefix string, n int) []*kusciav1alpha1.KusciaTask {
	var tasks []*kusciav1alpha1.KusciaTask
	for i := range n {
		task, err := examples.Task(examples.PSITaskFile)
		require.NoError(b, err)
		task.UID = ""
		task.Name = fmt.Sprintf("%s-%d", prefix, i)
		env := []corev1.EnvVar{{Name: "KWOK_OUTCOME", Value: "run"}}
		for p := range task.Spec.Parties {
			task.Spec.Parties[p].Template = &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
				Containers: []kusciav1alpha1.Container{{Name: "secretflow", Env: env}},
			}}
		}
		tasks = append(tasks, task)
	}
	return tasks
}

// createChildrenDirectly creates what the controller would for each task,
// with the builder, from 4 goroutines.
func createChildrenDirectly(b *testing.B, ctx context.Context, tasks []*kusciav1alpha1.KusciaTask) {
	images, err := examples.AppImages()
	require.NoError(b, err)
	domains, err := examples.Domains()
	require.NoError(b, err)
	work := make(chan *kusciav1alpha1.KusciaTask)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for task := range work {
				task := task.DeepCopy()
				task.UID = types.UID("bench-" + task.Name)
				plan, err := builder.PlanTask(task, builder.Inputs{AppImages: images, Namespaces: domains})
				if err != nil {
					b.Error(err)
					return
				}
				for p := range plan.Parties {
					objs, err := builder.BuildParty(task, plan, p, 1)
					if err != nil {
						b.Error(err)
						return
					}
					for _, cm := range objs.ConfigMaps {
						cm.OwnerReferences = nil
						_, err = env.kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
						if err != nil {
							b.Error(err)
						}
					}
					for _, svc := range objs.Services {
						svc.OwnerReferences = nil
						_, err = env.kube.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
						if err != nil {
							b.Error(err)
						}
					}
					for _, pod := range objs.Pods {
						pod.OwnerReferences = nil
						_, err = env.kube.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
						if err != nil {
							b.Error(err)
						}
					}
				}
			}
		}()
	}
	for _, t := range tasks {
		work <- t
	}
	close(work)
	wg.Wait()
}

// waitPodsRunning waits until want pods whose task label starts with prefix
// run.
func waitPodsRunning(b *testing.B, ctx context.Context, prefix string, want int) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		running := 0
		for _, ns := range []string{"alice", "bob"} {
			pods, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTaskUID})
			require.NoError(b, err)
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning && len(p.Name) > len(prefix) && p.Name[:len(prefix)] == prefix {
					running++
				}
			}
		}
		if running >= want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("pods of %s not running in time", prefix)
}

// cleanUpBench deletes the tasks (the garbage collector takes their
// children) and the baseline's ownerless objects, and waits for the pods to
// go.
func cleanUpBench(b *testing.B, ctx context.Context, prefix string, tasks []*kusciav1alpha1.KusciaTask) {
	for _, t := range tasks {
		_ = env.kuscia.KusciaV1alpha1().KusciaTasks().Delete(ctx, t.Name, metav1.DeleteOptions{})
	}
	sel := metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTaskUID}
	for _, ns := range []string{"alice", "bob"} {
		_ = env.kube.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
		_ = env.kube.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
		svcs, err := env.kube.CoreV1().Services(ns).List(ctx, sel)
		require.NoError(b, err)
		for _, s := range svcs.Items {
			_ = env.kube.CoreV1().Services(ns).Delete(ctx, s.Name, metav1.DeleteOptions{})
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		left := 0
		for _, ns := range []string{"alice", "bob"} {
			pods, err := env.kube.CoreV1().Pods(ns).List(ctx, sel)
			require.NoError(b, err)
			left += len(pods.Items)
		}
		if left == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("bench pods of %s not gone", prefix)
}
