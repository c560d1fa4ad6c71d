// Shell completion: task names for the verbs' arguments and the parties of
// the task for --party. kubectl completes `kubectl kuscia <TAB>` through
// the kubectl_complete-kuscia shim, which calls `kubectl-kuscia
// __complete` (cobra's hidden completion command).

package plugin

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// completeFunc is cobra's completion function of arguments and flags.
type completeFunc func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// completeTaskNames lists the names of the tasks starting with what is
// typed, leaving out those already given; none once max arguments are
// given (max 0: any number).
func completeTaskNames(clients clientsFunc, max int) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if max > 0 && len(args) >= max {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := clients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		list, err := c.Kuscia.KusciaV1alpha1().KusciaTasks().List(cmd.Context(), metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, t := range list.Items {
			names = append(names, t.Name)
		}
		return matching(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeParties lists the parties (domainIDs) of the task named by the
// first argument for a comma-separated flag: what is typed before the last
// comma stays, parties already named are left out.
func completeParties(clients clientsFunc) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := clients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		task, err := c.getTask(cmd.Context(), args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		given, last := "", toComplete
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			given, last = toComplete[:i+1], toComplete[i+1:]
		}
		var out []string
		for _, p := range matching(partyNamespaces(task), strings.Split(given, ","), last) {
			out = append(out, given+p)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// matching are the candidates starting with prefix and not in given,
// sorted.
func matching(candidates, given []string, prefix string) []string {
	skip := map[string]bool{}
	for _, g := range given {
		skip[g] = true
	}
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) && !skip[c] {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
