//go:build e2e && bench

// The bench's baseline: a bare client-go loop creating the objects the
// controller would create for each task.

package bench

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/podgroup"
)

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
