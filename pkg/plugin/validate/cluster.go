package validate

// This file holds validate's reads of the cluster and its dry runs: the
// task's AppImages and namespaces, a dryRun=All create of the task and of
// each object built, and what a refusal of one means for the task.

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
	"kusciatask.io/controller/pkg/refusal"
)

// fieldManager names validate in the dry-run requests.
const fieldManager = "kubectl-kuscia"

// dryRun is the options of every create validate sends: the API server
// runs validation and admission, and stores nothing.
var dryRun = metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: fieldManager}

// cluster is the API server validate reads AppImages and namespaces from
// and dry-runs against. It never writes.
type cluster struct {
	kube   kubernetes.Interface
	kuscia versioned.Interface
	// server is the API server's address, for the report.
	server string
}

// checkServed fails when the cluster does not serve KusciaTasks and
// AppImages: without the CRDs every AppImage would look missing.
func (c *cluster) checkServed(ctx context.Context) error {
	gv := kusciav1alpha1.SchemeGroupVersion.String()
	list, err := discovery.ToServerResourcesInterfaceWithContext(c.kube.Discovery()).ServerResourcesForGroupVersionWithContext(ctx, gv)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("discover %s: %w", gv, err)
	}
	served := sets.New[string]()
	if list != nil {
		for _, r := range list.APIResources {
			served.Insert(r.Name)
		}
	}
	if !served.HasAll("kusciatasks", "appimages") {
		return fmt.Errorf("the cluster at %s does not serve kusciatasks and appimages in %s: install the CRDs (crds/)", c.server, gv)
	}
	return nil
}

// resolve fills what the files did not give of the task's AppImages and
// namespaces from the cluster, and says which namespaces exist there (the
// dry runs need them). An error is the cluster failing to answer.
func (c *cluster) resolve(ctx context.Context, task *kusciav1alpha1.KusciaTask, in *builder.Inputs) (sets.Set[string], error) {
	existing := sets.New[string]()
	for _, p := range task.Spec.Parties {
		if _, ok := in.AppImages[p.AppImageRef]; !ok && p.AppImageRef != "" {
			img, err := c.kuscia.KusciaV1alpha1().AppImages().Get(ctx, p.AppImageRef, metav1.GetOptions{})
			switch {
			case err == nil:
				in.AppImages[p.AppImageRef] = img
			case !apierrors.IsNotFound(err):
				return nil, fmt.Errorf("get AppImage %s: %w", p.AppImageRef, err)
			}
		}
		if p.DomainID == "" || existing.Has(p.DomainID) {
			continue
		}
		ns, err := c.kube.CoreV1().Namespaces().Get(ctx, p.DomainID, metav1.GetOptions{})
		switch {
		case err == nil:
			existing.Insert(p.DomainID)
			if _, fromFile := in.Namespaces[p.DomainID]; !fromFile {
				in.Namespaces[p.DomainID] = ns
			}
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("get namespace %s: %w", p.DomainID, err)
		}
	}
	return existing, nil
}

// dryRunTask creates the task with dryRun=All, so the CRD's schema and CEL
// rules speak, and returns the UID the API server gave it (children must
// name their owner by UID). A task of that name that exists already is a
// note, and its UID is used.
func (c *cluster) dryRunTask(ctx context.Context, task *kusciav1alpha1.KusciaTask) (types.UID, []Problem, []string, error) {
	created, err := c.kuscia.KusciaV1alpha1().KusciaTasks().Create(ctx, task, dryRun)
	switch {
	case err == nil:
		return created.UID, nil, nil, nil
	case apierrors.IsAlreadyExists(err):
		existing, gerr := c.kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, task.Name, metav1.GetOptions{})
		if gerr != nil {
			return "", nil, nil, fmt.Errorf("get task %s: %w", task.Name, gerr)
		}
		note := fmt.Sprintf("KusciaTask %s exists already (phase %q): apply would change it, and a started task keeps its spec",
			task.Name, existing.Status.Phase)
		return existing.UID, nil, []string{note}, nil
	}
	p, note, err := dryRunRefused(kusciav1alpha1.ReasonInvalidSpec, "KusciaTask "+task.Name, err)
	return "", p, note, err
}

// dryRunCreate creates obj with dryRun=All.
func (c *cluster) dryRunCreate(ctx context.Context, obj metav1.Object) error {
	core := c.kube.CoreV1()
	var err error
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		_, err = core.ConfigMaps(o.Namespace).Create(ctx, o, dryRun)
	case *corev1.Service:
		_, err = core.Services(o.Namespace).Create(ctx, o, dryRun)
	case *schedulingv1beta1.PodGroup:
		_, err = c.kube.SchedulingV1beta1().PodGroups(o.Namespace).Create(ctx, o, dryRun)
	case *corev1.Pod:
		_, err = core.Pods(o.Namespace).Create(ctx, o, dryRun)
	default:
		return fmt.Errorf("cannot dry-run a %T", obj)
	}
	return err
}

// dryRunParty creates every object of a party with dryRun=All, in the
// controller's order (builder.CreationOrder), so admission (Pod Security,
// quotas, webhooks, the objects' own validation) speaks for each. The
// objects of one kind share a template: after the first refusal of a
// kind, the rest of that kind is not sent, and a note counts them.
func (c *cluster) dryRunParty(ctx context.Context, objs *builder.PartyObjects) ([]Problem, []string, error) {
	var problems []Problem
	var notes []string
	refused, skipped := map[string]bool{}, map[string]int{}
	var kinds []string
	for _, obj := range builder.CreationOrder(objs) {
		kind := builder.KindOf(obj)
		if refused[kind] {
			skipped[kind]++
			continue
		}
		err := c.dryRunCreate(ctx, obj)
		if err == nil {
			continue
		}
		key := builder.KeyOf(obj)
		if apierrors.IsAlreadyExists(err) {
			notes = append(notes, key+" exists already: the controller adopts it only when this task controls it")
			continue
		}
		p, n, err := dryRunRefused(kusciav1alpha1.ReasonInvalidTemplate, key, err)
		if err != nil {
			return nil, nil, err
		}
		problems, notes = append(problems, p...), append(notes, n...)
		refused[kind] = true
		kinds = append(kinds, kind)
	}
	for _, kind := range kinds {
		if n := skipped[kind]; n > 0 {
			notes = append(notes, fmt.Sprintf("%d more %s objects in %s were not dry-run after the first was refused", n, kind, namespaceOf(objs)))
		}
	}
	return problems, notes, nil
}

// namespaceOf is the namespace of a party's objects.
func namespaceOf(objs *builder.PartyObjects) string {
	if len(objs.Pods) == 0 {
		return ""
	}
	return objs.Pods[0].Namespace
}

// dryRunRefused says what a refused dry-run create means for the task, by
// the verdict package refusal's table gives the controller's real create:
//   - a refusal that does not heal is a problem that would fail the task
//     (invalidReason for an object the API finds invalid: the task's spec
//     or its template);
//   - an exceeded quota is a problem the task would wait on;
//   - any other refusal that heals (CreateFailed) is about the request,
//     not the task (the user's role, a webhook that cannot dry-run, a
//     namespace deleted meanwhile): a note; the controller would retry;
//   - no refusal at all (the server unreachable, a timeout) is returned
//     as an error.
func dryRunRefused(invalidReason kusciav1alpha1.KusciaTaskReason, key string, err error) ([]Problem, []string, error) {
	msg := err.Error()
	v := refusal.VerdictOf(err)
	switch {
	case v.Kind == refusal.Invalid:
		return []Problem{{Reason: string(invalidReason), Message: fmt.Sprintf("the API server would reject %s: %s", key, msg)}}, nil, nil
	case !v.Heals:
		return []Problem{{Reason: string(v.Reason), Message: fmt.Sprintf("the API server would refuse %s: %s", key, msg)}}, nil, nil
	case v.Reason == kusciav1alpha1.ReasonResourceQuotaExceeded:
		return []Problem{{Reason: string(v.Reason),
			Message: fmt.Sprintf("the API server would refuse %s for now (the task waits until the quota allows it): %s", key, msg)}}, nil, nil
	case v.Kind == refusal.Other:
		return nil, nil, fmt.Errorf("dry-run create %s: %w", key, err)
	case v.Kind == refusal.Unauthorized:
		return nil, []string{fmt.Sprintf("could not dry-run %s: you may not create it (the controller's own role decides): %s", key, msg)}, nil
	}
	return nil, []string{fmt.Sprintf("could not dry-run %s: the controller would retry it while the task waits (%s): %s", key, v.Reason, msg)}, nil
}

// placeholderUID stands for the task's UID when no API server gave one
// (offline): the API server gives every task its own.
const placeholderUID types.UID = "00000000-0000-0000-0000-000000000000"
