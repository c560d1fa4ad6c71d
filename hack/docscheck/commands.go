// Checks of the command lines: make targets, and the flags of the
// controller in commands and in docs/operating.md's flag table.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var substitution = regexp.MustCompile(`\$\([^()]*\)|\$\{[^{}]*\}`)

// chain separates the commands of one line: &&, ||, ; and |.
var chain = regexp.MustCompile(`&&|\|\||;|\|`)

var makeTarget = regexp.MustCompile(`^([A-Za-z0-9_.-]+):`)

func makeTargets(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	targets := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if m := makeTarget.FindStringSubmatch(l); m != nil && !strings.HasPrefix(l, ".") {
			targets[m[1]] = true
		}
	}
	return targets, nil
}

// checkCommand checks one command line: make targets, controller flags,
// plugin verbs and flags. A line may chain commands with &&, ||, ; and |.
func checkCommand(l line, targets map[string]bool, bins *binaries) []string {
	var problems []string
	text := l.text
	if i := strings.Index(text, " #"); i >= 0 {
		text = text[:i]
	}
	// $(…) and ${…} are values here, not commands.
	for prev := ""; prev != text; {
		prev, text = text, substitution.ReplaceAllString(text, "VALUE")
	}
	for _, part := range chain.Split(text, -1) {
		words := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(part))
		for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
			words = words[1:] // VAR=value before the command
		}
		if len(words) == 0 {
			continue
		}
		switch cmd := words[0]; {
		case cmd == "make":
			for _, w := range words[1:] {
				if strings.HasPrefix(w, "-") || strings.Contains(w, "=") {
					continue
				}
				if !targets[w] {
					problems = append(problems, fmt.Sprintf("%s: make %s: no such target in the Makefile", l.at(), w))
				}
			}
		case filepath.Base(cmd) == "kusciatask-controller":
			problems = append(problems, bins.checkFlags(l, "kusciatask-controller", nil, words[1:])...)
		case cmd == "go" && len(words) > 2 && words[1] == "run" && words[2] == "./cmd/kusciatask-controller":
			problems = append(problems, bins.checkFlags(l, "kusciatask-controller", nil, words[3:])...)
		case cmd == "kubectl" && len(words) > 1 && words[1] == "kuscia":
			problems = append(problems, bins.checkPlugin(l, words[2:])...)
		case filepath.Base(cmd) == "kubectl-kuscia":
			problems = append(problems, bins.checkPlugin(l, words[1:])...)
		}
	}
	return problems
}

// flagTable is the file whose table rows starting with a `--flag` cell list
// the controller's flags.
const flagTable = "docs/operating.md"

var flagRow = regexp.MustCompile("^\\|\\s*`(--?[A-Za-z0-9][A-Za-z0-9_-]*)`\\s*\\|")

func checkFlagTable(doc *document, bins *binaries) []string {
	var problems []string
	for _, l := range doc.prose {
		if m := flagRow.FindStringSubmatch(l.text); m != nil {
			problems = append(problems, bins.checkFlags(l, "kusciatask-controller", nil, []string{m[1]})...)
		}
	}
	return problems
}
