// get -w: print the tasks, then each change as it is seen, until
// interrupted.

package plugin

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/printers"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// runWatch prints the tasks (the named one, else those matching -l), then
// one row or object per change. The end of the context (Ctrl-C) ends it
// without an error; a watch the server closes is opened again from the
// last version seen.
func (o *getOptions) runWatch(ctx context.Context, c *Clients, args []string, printer printers.ResourcePrinter) error {
	opts := metav1.ListOptions{LabelSelector: o.selector}
	var name string
	if len(args) == 1 {
		name = args[0]
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
	tasks, resourceVersion, err := o.watchStart(ctx, c, name)
	if err != nil {
		return err
	}
	print := o.watchPrinter(printer, name)
	for i := range tasks {
		if err := print(&tasks[i]); err != nil {
			return err
		}
	}
	err = o.follow(ctx, c, opts, resourceVersion, print)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// watchStart is what a watch prints first and the version it starts from:
// the named task, else every task matching -l, sorted by name.
func (o *getOptions) watchStart(ctx context.Context, c *Clients, name string) ([]kusciav1alpha1.KusciaTask, string, error) {
	if name != "" {
		task, err := c.getTask(ctx, name)
		if err != nil {
			return nil, "", err
		}
		return []kusciav1alpha1.KusciaTask{*task}, task.ResourceVersion, nil
	}
	list, err := c.Kuscia.KusciaV1alpha1().KusciaTasks().List(ctx, metav1.ListOptions{LabelSelector: o.selector})
	if err != nil {
		return nil, "", &CodedError{Code: ExitError, Err: fmt.Errorf("listing KusciaTasks: %w", err)}
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, list.ResourceVersion, nil
}

// watchPrinter prints one task (only the one named, when name is set):
// a table row (the header before the first) or with printer.
func (o *getOptions) watchPrinter(printer printers.ResourcePrinter, name string) func(*kusciav1alpha1.KusciaTask) error {
	table := o.table()
	last := map[string]*kusciav1alpha1.KusciaTask{}
	return func(task *kusciav1alpha1.KusciaTask) error {
		if (name != "" && task.Name != name) || sameTask(last[task.Name], task) {
			return nil
		}
		last[task.Name] = task.DeepCopy()
		if printer != nil {
			return printObject(printer, task, o.streams.Out)
		}
		table.now = o.now()
		err := table.print(o.streams.Out, []kusciav1alpha1.KusciaTask{*task})
		table.noHeaders = true
		return err
	}
}

// sameTask reports whether b is a repeat of a, as a watch that starts
// without a version may send what was listed already.
func sameTask(a, b *kusciav1alpha1.KusciaTask) bool {
	return a != nil && a.ResourceVersion == b.ResourceVersion && equality.Semantic.DeepEqual(a.Labels, b.Labels) &&
		equality.Semantic.DeepEqual(a.Spec, b.Spec) && equality.Semantic.DeepEqual(a.Status, b.Status)
}

// follow watches from resourceVersion and prints each task that changes.
func (o *getOptions) follow(ctx context.Context, c *Clients, opts metav1.ListOptions, resourceVersion string,
	print func(*kusciav1alpha1.KusciaTask) error) error {
	tasks := c.Kuscia.KusciaV1alpha1().KusciaTasks()
	for ctx.Err() == nil {
		opts.ResourceVersion = resourceVersion
		w, err := tasks.Watch(ctx, opts)
		if err != nil {
			return &CodedError{Code: ExitError, Err: fmt.Errorf("watching KusciaTasks: %w", err)}
		}
		resourceVersion, err = printWatchEvents(ctx, w, resourceVersion, print)
		w.Stop()
		if err != nil {
			return &CodedError{Code: ExitError, Err: err}
		}
	}
	return nil
}

// errWatchEnded is a watch's error event (e.g. the version is too old).
var errWatchEnded = errors.New("the watch ended")

// printWatchEvents prints each event's task until the watch closes or ctx
// ends; it returns the last resourceVersion seen.
func printWatchEvents(ctx context.Context, w watch.Interface, resourceVersion string, print func(*kusciav1alpha1.KusciaTask) error) (string, error) {
	for {
		var ev watch.Event
		var open bool
		select {
		case <-ctx.Done():
			return resourceVersion, nil
		case ev, open = <-w.ResultChan():
		}
		if !open {
			return resourceVersion, nil
		}
		switch ev.Type {
		case watch.Error:
			return resourceVersion, fmt.Errorf("%w: %v", errWatchEnded, statusMessage(ev.Object))
		case watch.Bookmark:
			continue
		}
		task, ok := ev.Object.(*kusciav1alpha1.KusciaTask)
		if !ok {
			continue
		}
		resourceVersion = task.ResourceVersion
		if err := print(task); err != nil {
			return resourceVersion, err
		}
	}
}

// statusMessage is the message of a watch error's Status.
func statusMessage(obj runtime.Object) string {
	if s, ok := obj.(*metav1.Status); ok {
		return s.Message
	}
	return fmt.Sprint(obj)
}
