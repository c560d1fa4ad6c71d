// Package flaggroups lists a kubectl-kuscia verb's flags in sections in its
// --help, as Kubernetes' own components do (component-base's named flag
// sets), each flag with its default: the verb's flags by group, then the
// connection flags every verb shares.
package flaggroups

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// annotation is the flag annotation that holds a flag's group.
const annotation = "kubectl-kuscia/group"

// The groups of the verbs' flags, and Connection, which heads the flags
// every verb inherits (kubeconfig, context, impersonation...).
const (
	Selection  = "Selection"
	Input      = "Input"
	Policy     = "Controller policy"
	Output     = "Output"
	Connection = "Connection"
)

// Set puts the named flags of fs in group; the flags of a verb that no Set
// names are listed under "Flags". It panics on a name fs does not have: a
// programming error the verbs' tests catch.
func Set(fs *pflag.FlagSet, group string, names ...string) {
	for _, name := range names {
		if err := fs.SetAnnotation(name, annotation, []string{group}); err != nil {
			panic(fmt.Sprintf("flaggroups: %v", err))
		}
	}
}

// Install makes cmd and its sub-commands print their flags in sections:
// the local flags by group in the order of order (the ungrouped ones,
// --help among them, first under "Flags"), then the inherited ones under
// Connection. Call it on the root command once the tree is built.
func Install(root *cobra.Command, order ...string) {
	cobra.AddTemplateFunc("kusciaFlagSections", func(cmd *cobra.Command) string { return Sections(cmd, order) })
	tmpl := root.UsageTemplate()
	start := strings.Index(tmpl, "{{if .HasAvailableLocalFlags}}")
	end := strings.Index(tmpl, "{{if .HasHelpSubCommands}}")
	if start < 0 || end < start {
		panic("flaggroups: cobra's usage template has no flag sections where expected")
	}
	root.SetUsageTemplate(tmpl[:start] + "{{kusciaFlagSections .}}" + tmpl[end:])
}

// Sections renders cmd's flags as Install lists them, each section led by
// a blank line and "<group> flags:".
func Sections(cmd *cobra.Command, order []string) string {
	groups := map[string]*pflag.FlagSet{}
	add := func(group string, f *pflag.Flag) {
		if groups[group] == nil {
			groups[group] = pflag.NewFlagSet(group, pflag.ContinueOnError)
		}
		shown := *f
		shown.Usage = withDefault(f)
		groups[group].AddFlag(&shown)
	}
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		group := ""
		if g := f.Annotations[annotation]; len(g) > 0 {
			group = g[0]
		}
		add(group, f)
	})
	cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			add(Connection, f)
		}
	})
	var b bytes.Buffer
	for _, group := range append(append([]string{""}, order...), Connection) {
		fs := groups[group]
		if fs == nil {
			continue
		}
		delete(groups, group)
		title := "Flags"
		if group != "" {
			title = group + " flags"
		}
		fmt.Fprintf(&b, "\n\n%s:\n%s", title, strings.TrimRight(fs.FlagUsages(), " \n"))
	}
	if len(groups) > 0 {
		panic(fmt.Sprintf("flaggroups: groups %v of %s are not in the order given to Install", slices.Sorted(maps.Keys(groups)), cmd.Name()))
	}
	return b.String()
}

// withDefault is a flag's usage with its default, also when pflag would
// leave a zero default out (false, 0, 0s, "", []); a usage that says its default
// in its own words (get's -o) is kept, and so is --help's.
func withDefault(f *pflag.Flag) string {
	if f.Name == "help" || strings.Contains(f.Usage, "(default ") || strings.Contains(f.Usage, "Default: ") {
		return f.Usage
	}
	switch f.DefValue {
	case "false", "0", "0s", "[]":
		return f.Usage + " (default " + f.DefValue + ")"
	case "":
		return f.Usage + ` (default "")`
	}
	return f.Usage
}
