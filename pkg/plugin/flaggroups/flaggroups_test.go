package flaggroups

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testTree() (root, verb *cobra.Command) {
	root = &cobra.Command{Use: "kubectl-kuscia"}
	root.PersistentFlags().String("kubeconfig", "", "Path to the kubeconfig file.")
	verb = &cobra.Command{Use: "check", Run: func(*cobra.Command, []string) {}}
	verb.Flags().StringSliceP("filename", "f", nil, "Files to check.")
	verb.Flags().Bool("offline", false, "Ask no cluster.")
	verb.Flags().Int("max-pods", 256, "Most pods.")
	verb.Flags().StringP("output", "o", "", "Output format.")
	verb.Flags().Bool("plain", false, "Not in a group.")
	Set(verb.Flags(), Input, "filename", "offline")
	Set(verb.Flags(), Policy, "max-pods")
	Set(verb.Flags(), Output, "output")
	root.AddCommand(verb)
	Install(root, Selection, Input, Policy, Output)
	return root, verb
}

// TestSections: a verb's help lists its ungrouped flags first, then each
// group in the order given, then the inherited connection flags, every
// flag with its default (zero ones included), --help without one.
func TestSections(t *testing.T) {
	root, _ := testTree()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"check", "--help"})
	require.NoError(t, root.Execute())
	help := out.String()

	var titles []string
	for _, line := range strings.Split(help, "\n") {
		if strings.HasSuffix(line, "lags:") {
			titles = append(titles, line)
		}
	}
	assert.Equal(t, []string{"Flags:", "Input flags:", "Controller policy flags:", "Output flags:", "Connection flags:"}, titles, help)
	assert.Contains(t, help, "-f, --filename strings   Files to check. (default [])")
	assert.Contains(t, help, "--offline            Ask no cluster. (default false)")
	assert.Contains(t, help, "--max-pods int   Most pods. (default 256)")
	assert.Contains(t, help, `-o, --output string   Output format. (default "")`)
	assert.Contains(t, help, "--plain   Not in a group. (default false)")
	assert.Contains(t, help, `--kubeconfig string   Path to the kubeconfig file. (default "")`)
	assert.NotContains(t, help, "help for check (default", "--help has no default worth saying")
	assert.Equal(t, 1, strings.Count(help, "--offline"), "each flag once")
}

// TestGroupOutsideTheOrderPanics: a group the root does not order is a
// programming error, found by the first --help.
func TestGroupOutsideTheOrderPanics(t *testing.T) {
	_, verb := testTree()
	verb.Flags().Bool("odd", false, "Odd.")
	Set(verb.Flags(), "Odd", "odd")
	assert.PanicsWithValue(t, "flaggroups: groups [Odd] of check are not in the order given to Install", func() {
		Sections(verb, []string{Input, Policy, Output})
	})
	assert.Panics(t, func() { Set(verb.Flags(), Input, "no-such-flag") })
}
