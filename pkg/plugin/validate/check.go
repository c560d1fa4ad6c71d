package validate

// This file holds the check of one task (the cluster's answers, the
// controller's builder, the dry runs of what it builds) and the -o output
// of the objects built.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/yaml"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// checkTask checks one task: against the cluster first when there is one
// (its AppImages and namespaces, a dry run of the task itself), then with
// the controller's builder, then a dry run of every object built. The
// error is the cluster failing to answer.
func (o *options) checkTask(ctx context.Context, cl *cluster, st sourcedTask, in *inputs, policy builder.Policy) (*taskReport, error) {
	tr := &taskReport{name: st.name, where: st.where, problems: append([]Problem(nil), st.problems...),
		notes: append([]string(nil), st.notes...)}
	if st.task == nil {
		return tr, nil
	}
	task := st.task.DeepCopy()
	for _, p := range task.Spec.Parties {
		tr.appImages = append(tr.appImages, p.AppImageRef)
	}
	bin := builder.Inputs{AppImages: maps.Clone(in.appImages), Namespaces: maps.Clone(in.namespaces), Policy: policy, Start: o.now()}
	// As the API server stores a new task: no UID or version from the
	// file, none of its status.
	task.UID, task.ResourceVersion, task.Status = placeholderUID, "", kusciav1alpha1.KusciaTaskStatus{}
	existing := sets.New[string]()
	schemaRejected := st.schemaRejected
	if cl != nil {
		var err error
		if existing, err = cl.resolve(ctx, task, &bin); err != nil {
			return nil, err
		}
		submitted := task.DeepCopy()
		submitted.UID = ""
		uid, problems, notes, err := cl.dryRunTask(ctx, submitted)
		if err != nil {
			return nil, err
		}
		tr.problems, tr.notes = append(tr.problems, problems...), append(tr.notes, notes...)
		schemaRejected = schemaRejected || len(problems) > 0
		if uid != "" {
			task.UID = uid
		}
	}
	check, err := builder.CheckTask(ctx, task, bin, firstRound)
	if err != nil {
		return nil, fmt.Errorf("check task %s: %w", task.Name, err)
	}
	tr.check = check
	tr.problems = append(tr.problems, builderProblems(check.Problems, task.Spec.Parties, bin, cl == nil, schemaRejected)...)
	if cl == nil || check.Plan == nil {
		return tr, nil
	}
	if err := tr.dryRunChildren(ctx, cl, existing, bin.Namespaces, partiesWith(check.Problems, kusciav1alpha1.ReasonPodSecurityViolation, task.Spec.Parties)); err != nil {
		return nil, err
	}
	return tr, nil
}

// dryRunChildren dry-runs every party's objects in the namespaces the
// cluster has; a party whose namespace only a file gives is noted. Pod
// Security's refusals of the pods of a party the builder found violating
// it (podSecurity) are not listed again.
func (tr *taskReport) dryRunChildren(ctx context.Context, cl *cluster, existing sets.Set[string], namespaces map[string]*corev1.Namespace,
	podSecurity sets.Set[string]) error {
	for i, objs := range tr.check.Parties {
		domain := tr.check.Plan.Parties[i].DomainID
		switch {
		case tr.check.Plan.Blocked[i]:
			continue
		case !existing.Has(domain):
			if _, fromFile := namespaces[domain]; fromFile {
				tr.notes = append(tr.notes, fmt.Sprintf("namespace %s is not in the cluster yet: party %s's objects were not dry-run", domain, domain))
			}
			continue
		}
		problems, notes, err := cl.dryRunParty(ctx, objs)
		if err != nil {
			return err
		}
		if podSecurity.Has(domain) {
			problems = withoutPodSecurityRefusals(problems)
		}
		tr.problems, tr.notes = append(tr.problems, problems...), append(tr.notes, notes...)
	}
	return nil
}

// print writes the report: all of it, or with -o the objects to stdout and
// the report without its summaries to stderr. With -q the report is its
// last line only.
func (o *options) print(rep *report) error {
	text := o.streams.Out
	if o.output != "" {
		text = o.streams.ErrOut
	}
	switch {
	case o.quiet:
		fmt.Fprintln(text, rep.summary())
	case o.output == "":
		rep.writeText(text, true)
	default:
		rep.writeText(text, false)
	}
	if o.output == "" {
		return nil
	}
	list := objectList(rep)
	var data []byte
	var err error
	if o.output == "json" {
		data, err = json.MarshalIndent(list, "", "    ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(list)
	}
	if err != nil {
		return fmt.Errorf("encode objects: %w", err)
	}
	if _, err := o.streams.Out.Write(data); err != nil {
		return fmt.Errorf("write objects: %w", err)
	}
	return nil
}

// list is a v1 List, as kubectl prints several objects.
type list struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []any  `json:"items"`
}

// objectList is every object built, in the controller's creation order per
// party (builder.CreationOrder), each with its kind and apiVersion.
func objectList(rep *report) list {
	l := list{APIVersion: "v1", Kind: "List", Items: []any{}}
	for _, t := range rep.tasks {
		if t.check == nil || t.check.Plan == nil {
			continue
		}
		for i, objs := range t.check.Parties {
			if t.check.Plan.Blocked[i] {
				continue
			}
			for _, obj := range builder.CreationOrder(objs) {
				l.Items = append(l.Items, withType(obj))
			}
		}
	}
	return l
}

// withType is a copy of obj with its kind and apiVersion set, as a List
// holds it.
func withType(obj metav1.Object) runtime.Object {
	var gvk schema.GroupVersionKind
	switch obj.(type) {
	case *corev1.ConfigMap:
		gvk = corev1.SchemeGroupVersion.WithKind("ConfigMap")
	case *corev1.Service:
		gvk = corev1.SchemeGroupVersion.WithKind("Service")
	case *schedulingv1beta1.PodGroup:
		gvk = schedulingv1beta1.SchemeGroupVersion.WithKind("PodGroup")
	case *corev1.Pod:
		gvk = corev1.SchemeGroupVersion.WithKind("Pod")
	}
	out := obj.(runtime.Object).DeepCopyObject()
	out.GetObjectKind().SetGroupVersionKind(gvk)
	return out
}
