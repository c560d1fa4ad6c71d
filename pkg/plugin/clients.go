package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	versioned "kusciatask.io/controller/pkg/generated/clientset/versioned"
)

// LogStreamer opens the log stream of one container of a pod: the seam
// that lets tests give each pod its own lines (the fake clientset answers
// every pod with the same "fake logs").
type LogStreamer interface {
	StreamLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
}

// Clients is what the verbs read the cluster with.
type Clients struct {
	Kube   kubernetes.Interface
	Kuscia versioned.Interface
	Logs   LogStreamer
}

// clientsFunc makes the clients once a verb runs (flags parsed).
type clientsFunc func() (*Clients, error)

func newClientsFromFlags(flags *genericclioptions.ConfigFlags) clientsFunc {
	return func() (*Clients, error) {
		cfg, err := flags.ToRESTConfig()
		if err != nil {
			return nil, &CodedError{Code: ExitError, Err: fmt.Errorf("reading the kubeconfig: %w", err)}
		}
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, &CodedError{Code: ExitError, Err: fmt.Errorf("making the Kubernetes client: %w", err)}
		}
		kuscia, err := versioned.NewForConfig(cfg)
		if err != nil {
			return nil, &CodedError{Code: ExitError, Err: fmt.Errorf("making the KusciaTask client: %w", err)}
		}
		return &Clients{Kube: kube, Kuscia: kuscia, Logs: podLogs{kube}}, nil
	}
}

// podLogs streams logs through the API server (the kubelet's log endpoint).
type podLogs struct{ kube kubernetes.Interface }

func (p podLogs) StreamLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return p.kube.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}

// getTask reads one task; NotFound says so plainly.
func (c *Clients) getTask(ctx context.Context, name string) (*kusciav1alpha1.KusciaTask, error) {
	task, err := c.Kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, &CodedError{Code: ExitError, Err: fmt.Errorf("getting KusciaTask %q: %w", name, err)}
	}
	return task, nil
}

// taskPods lists the task's pods in its parties' namespaces (only those
// named in parties when it is not empty) by the task-UID label, sorted by
// namespace and name.
func (c *Clients) taskPods(ctx context.Context, task *kusciav1alpha1.KusciaTask, parties map[string]bool) ([]corev1.Pod, error) {
	selector := kusciav1alpha1.LabelTaskUID + "=" + string(task.UID)
	var out []corev1.Pod
	for _, ns := range partyNamespaces(task) {
		if len(parties) > 0 && !parties[ns] {
			continue
		}
		list, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, fmt.Errorf("listing the pods of task %s in namespace %s: %w", task.Name, ns, err)
		}
		out = append(out, list.Items...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// partyNamespaces are the distinct domainIDs of the task, in spec order.
func partyNamespaces(task *kusciav1alpha1.KusciaTask) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range task.Spec.Parties {
		if !seen[p.DomainID] {
			seen[p.DomainID] = true
			out = append(out, p.DomainID)
		}
	}
	return out
}
