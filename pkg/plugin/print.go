// The -o flag of get, as kubectl's: the human table (wide adds columns) or
// tree, and cli-runtime's printers (json, yaml, name, jsonpath,
// go-template) plus custom-columns.

package plugin

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Output formats of get besides cli-runtime's.
const (
	outputWide          = "wide"
	outputCustomColumns = "custom-columns="
)

// printFlags are get's -o, --no-headers and cli-runtime's template flags.
type printFlags struct {
	generic   *genericclioptions.PrintFlags
	noHeaders bool
}

func newPrintFlags() *printFlags {
	return &printFlags{generic: genericclioptions.NewPrintFlags("")}
}

// addFlags adds -o (with every format in its help), --no-headers,
// --template, --allow-missing-template-keys and --show-managed-fields.
func (f *printFlags) addFlags(cmd *cobra.Command) {
	f.generic.AddFlags(cmd)
	formats := append([]string{outputWide}, f.generic.AllowedFormats()...)
	formats = append(formats, outputCustomColumns+"NAME:.metadata.name,...")
	cmd.Flags().Lookup("output").Usage = "Output format: " + strings.Join(formats, "|") +
		". Default: a table of the tasks, or one task as a tree of parties and pods."
	cmd.Flags().BoolVar(&f.noHeaders, "no-headers", false, "Leave the table's header line out (the default and wide output, custom-columns).")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return formats, cobra.ShellCompDirectiveNoFileComp
	})
}

// format is the -o value.
func (f *printFlags) format() string { return *f.generic.OutputFormat }

// human reports whether the output is the plugin's own table or tree.
func (f *printFlags) human() bool { return f.format() == "" || f.format() == outputWide }

// perItem reports whether a list is printed item by item (-o name
// prints no list, as kubectl's).
func (f *printFlags) perItem() bool { return f.format() == "name" }

// toPrinter is the printer of a machine format; nil for the human output.
func (f *printFlags) toPrinter() (printers.ResourcePrinter, error) {
	if f.human() {
		return nil, nil
	}
	if spec, ok := strings.CutPrefix(f.format(), outputCustomColumns); ok {
		return newCustomColumns(spec, f.noHeaders)
	}
	p, err := f.generic.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return nil, usageError("unknown output format %q: use wide, %s or %sNAME:.metadata.name,...",
			f.format(), strings.Join(f.generic.AllowedFormats(), ", "), outputCustomColumns)
	}
	if err != nil {
		return nil, usageError("-o %s: %w", f.format(), err)
	}
	return p, nil
}

// printObject prints a task or task list with the apiVersion and kind of
// it and of every item (the typed client drops them; the name printer and
// templates need them).
func printObject(p printers.ResourcePrinter, obj runtime.Object, out io.Writer) error {
	setKinds(obj)
	if err := p.PrintObj(obj, out); err != nil {
		return fmt.Errorf("printing: %w", err)
	}
	return nil
}

// printItems prints each task of list with p, sorted by name.
func printItems(p printers.ResourcePrinter, list *kusciav1alpha1.KusciaTaskList, out io.Writer) error {
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		if err := printObject(p, &list.Items[i], out); err != nil {
			return err
		}
	}
	return nil
}

// setKinds sets the apiVersion and kind of a task, or of a list and its
// items.
func setKinds(obj runtime.Object) {
	switch o := obj.(type) {
	case *kusciav1alpha1.KusciaTask:
		o.SetGroupVersionKind(kusciav1alpha1.SchemeGroupVersion.WithKind("KusciaTask"))
	case *kusciav1alpha1.KusciaTaskList:
		o.SetGroupVersionKind(kusciav1alpha1.SchemeGroupVersion.WithKind("KusciaTaskList"))
		for i := range o.Items {
			setKinds(&o.Items[i])
		}
	}
}

// customColumns prints -o custom-columns=HEADER:JSONPATH,...: one row per
// object, "<none>" where a path finds nothing.
type customColumns struct {
	headers   []string
	paths     []*jsonpath.JSONPath
	noHeaders bool
	// printedHeader: a watch prints the header once, before the first row.
	printedHeader bool
}

func newCustomColumns(spec string, noHeaders bool) (*customColumns, error) {
	p := &customColumns{noHeaders: noHeaders}
	for _, col := range strings.Split(spec, ",") {
		header, path, ok := strings.Cut(col, ":")
		if !ok || header == "" || path == "" {
			return nil, usageError("-o custom-columns: %q is not HEADER:JSONPATH", col)
		}
		jp := jsonpath.New(header).AllowMissingKeys(true)
		if err := jp.Parse(relaxedJSONPath(path)); err != nil {
			return nil, usageError("-o custom-columns: column %s: %w", header, err)
		}
		p.headers = append(p.headers, header)
		p.paths = append(p.paths, jp)
	}
	return p, nil
}

// relaxedJSONPath lets a column say .status.phase or status.phase for
// {.status.phase}, as kubectl does.
func relaxedJSONPath(path string) string {
	if strings.HasPrefix(path, "{") {
		return path
	}
	return "{." + strings.TrimPrefix(path, ".") + "}"
}

func (p *customColumns) PrintObj(obj runtime.Object, out io.Writer) error {
	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return fmt.Errorf("custom-columns: %w", err)
		}
	}
	w := printers.GetNewTabWriter(out)
	if !p.noHeaders && !p.printedHeader {
		fmt.Fprintln(w, strings.Join(p.headers, "\t"))
		p.printedHeader = true
	}
	for _, item := range items {
		cells, err := p.row(item)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	return w.Flush()
}

// row is one object's cells.
func (p *customColumns) row(obj runtime.Object) ([]string, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("custom-columns: %w", err)
	}
	cells := make([]string, len(p.paths))
	for i, jp := range p.paths {
		results, err := jp.FindResults(u)
		if err != nil {
			return nil, fmt.Errorf("custom-columns: column %s: %w", p.headers[i], err)
		}
		var values []string
		for _, r := range results {
			for _, v := range r {
				values = append(values, fmt.Sprint(v.Interface()))
			}
		}
		cells[i] = "<none>"
		if len(values) > 0 {
			cells[i] = strings.Join(values, ",")
		}
	}
	return cells, nil
}
