// The controller and the plugin, built once, and what their --help lists.

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// binaries builds the controller and the plugin once and caches their help.
type binaries struct {
	dir   string
	flags map[string]map[string]bool // "kubectl-kuscia get" → flag names
	verbs map[string]bool
}

func newBinaries() (*binaries, error) {
	dir, err := os.MkdirTemp("", "docscheck")
	if err != nil {
		return nil, err
	}
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/kusciatask-controller", "./cmd/kubectl-kuscia")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("building the binaries: %w", err)
	}
	b := &binaries{dir: dir, flags: map[string]map[string]bool{}}
	help, err := b.help("kubectl-kuscia")
	if err != nil {
		return nil, err
	}
	b.verbs = commandsOf(help)
	return b, nil
}

func (b *binaries) help(bin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(b.dir, bin), append(args, "--help")...)
	out, err := cmd.CombinedOutput()
	// Go's flag package exits 0 on -help since 1.x, older ones 2: the
	// output is what matters, as long as it lists flags.
	if len(out) == 0 {
		return "", fmt.Errorf("%s %s --help: %v", bin, strings.Join(args, " "), err)
	}
	return string(out), nil
}

var helpFlag = regexp.MustCompile(`^\s+(?:-([A-Za-z0-9]), )?--?([A-Za-z0-9][A-Za-z0-9_-]*)`)

func flagsOf(help string) map[string]bool {
	flags := map[string]bool{"help": true, "h": true}
	for _, l := range strings.Split(help, "\n") {
		if m := helpFlag.FindStringSubmatch(l); m != nil {
			if m[1] != "" {
				flags[m[1]] = true
			}
			flags[m[2]] = true
		}
	}
	return flags
}

var helpCommand = regexp.MustCompile(`^  ([a-z][a-z0-9-]*)\s{2,}\S`)

func commandsOf(help string) map[string]bool {
	verbs := map[string]bool{}
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(l, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(l) == "":
			in = false
		case in:
			if m := helpCommand.FindStringSubmatch(l); m != nil {
				verbs[m[1]] = true
			}
		}
	}
	return verbs
}

func (b *binaries) checkPlugin(l line, words []string) []string {
	if len(words) == 0 || strings.HasPrefix(words[0], "-") {
		return b.checkFlags(l, "kubectl-kuscia", nil, words)
	}
	verb := words[0]
	if !b.verbs[verb] {
		known := make([]string, 0, len(b.verbs))
		for v := range b.verbs {
			known = append(known, v)
		}
		sort.Strings(known)
		return []string{fmt.Sprintf("%s: kubectl kuscia %s: no such verb (the plugin has %s)", l.at(), verb, strings.Join(known, ", "))}
	}
	return b.checkFlags(l, "kubectl-kuscia", []string{verb}, words[1:])
}

// checkFlags checks every word that starts with - against bin's --help.
func (b *binaries) checkFlags(l line, bin string, args, words []string) []string {
	key := strings.Join(append([]string{bin}, args...), " ")
	flags, ok := b.flags[key]
	if !ok {
		help, err := b.help(bin, args...)
		if err != nil {
			return []string{fmt.Sprintf("%s: %v", l.at(), err)}
		}
		flags = flagsOf(help)
		b.flags[key] = flags
	}
	var problems []string
	for _, w := range words {
		if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if name == "" || strings.ContainsAny(name, "<>[]|….") {
			continue // a placeholder, such as --<flag>
		}
		if !flags[name] {
			problems = append(problems, fmt.Sprintf("%s: %s: %s is not a flag of %s (see its --help)", l.at(), key, w, key))
		}
	}
	return problems
}
