// Command docscheck fails when README.md, examples/README.md or docs/*.md
// promise something the repository does not have. Run by hack/verify.sh
// (make verify), from the repository's root:
//
//   - every relative link resolves to a file or folder, and its #anchor (if
//     any) to a heading of the Markdown file it points to;
//   - every path-like inline code span (`hack/local-up.sh`, `pkg/status`)
//     names a file or folder that exists;
//   - every command line of a code block that runs `make TARGET` names a
//     target of the Makefile;
//   - every flag given to kusciatask-controller or to `kubectl kuscia VERB`
//     in a code block is listed by that binary's --help, and every VERB
//     exists (the binaries are built into a scratch folder for it);
//   - every row of docs/operating.md's flag tables names a flag of
//     kusciatask-controller;
//   - the README's "My task is stuck" names every KusciaTaskReason of
//     pkg/apis/kuscia/v1alpha1;
//   - no issue numbers ("issue 10") and no DESIGN.md.
//
// Command lines are the lines of ```shell, ```sh and ```bash blocks, and the
// lines starting with "$ " of any other block.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

func main() {
	files := []string{"README.md", "examples/README.md"}
	more, err := filepath.Glob("docs/*.md")
	if err != nil {
		fail("%v", err)
	}
	files = append(files, more...)

	targets, err := makeTargets("Makefile")
	if err != nil {
		fail("%v", err)
	}
	bins, err := newBinaries()
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(bins.dir)

	var problems []string
	for _, f := range files {
		doc, err := parse(f)
		if err != nil {
			fail("%v", err)
		}
		problems = append(problems, checkLinks(doc)...)
		problems = append(problems, checkPaths(doc)...)
		problems = append(problems, checkWords(doc)...)
		for _, c := range doc.commands {
			problems = append(problems, checkCommand(c, targets, bins)...)
		}
		if f == "README.md" {
			problems = append(problems, checkReasons(doc)...)
		}
		if f == flagTable {
			problems = append(problems, checkFlagTable(doc, bins)...)
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p)
		}
		fmt.Fprintf(os.Stderr, "docscheck: %d problems\n", len(problems))
		os.Exit(1)
	}
	fmt.Printf("docscheck: %d files OK\n", len(files))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "docscheck: "+format+"\n", args...)
	os.Exit(2)
}

// line is a piece of a Markdown file with where it came from.
type line struct {
	file string
	n    int
	text string
}

func (l line) at() string { return fmt.Sprintf("%s:%d", l.file, l.n) }

type document struct {
	path     string
	prose    []line // lines outside code blocks
	commands []line // command lines of code blocks
}

var fence = regexp.MustCompile("^\\s*(```+|~~~+)\\s*([A-Za-z]*)")

func parse(path string) (*document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc := &document{path: path}
	var inBlock bool
	var marker, lang string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; s.Scan(); n++ {
		text := s.Text()
		if m := fence.FindStringSubmatch(text); m != nil {
			switch {
			case !inBlock:
				inBlock, marker, lang = true, m[1], m[2]
				continue
			case strings.HasPrefix(strings.TrimSpace(text), marker) && m[2] == "":
				inBlock = false
				continue
			}
		}
		l := line{file: path, n: n, text: text}
		if !inBlock {
			doc.prose = append(doc.prose, l)
			continue
		}
		t := strings.TrimSpace(text)
		switch lang {
		case "shell", "sh", "bash":
			if t != "" && !strings.HasPrefix(t, "#") {
				l.text = strings.TrimPrefix(t, "$ ")
				doc.commands = append(doc.commands, l)
			}
		default:
			if strings.HasPrefix(t, "$ ") {
				l.text = strings.TrimPrefix(t, "$ ")
				doc.commands = append(doc.commands, l)
			}
		}
	}
	return doc, s.Err()
}

var (
	link       = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	inlineCode = regexp.MustCompile("`([^`]+)`")
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// checkLinks: relative links resolve, anchors name a heading.
func checkLinks(doc *document) []string {
	var problems []string
	for _, l := range doc.prose {
		for _, m := range link.FindAllStringSubmatch(stripCode(l.text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			resolved := doc.path
			if file != "" {
				resolved = filepath.Join(filepath.Dir(doc.path), file)
				if _, err := os.Stat(resolved); err != nil {
					problems = append(problems, fmt.Sprintf("%s: link %q: %s does not exist", l.at(), target, resolved))
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(resolved, ".md") {
				problems = append(problems, fmt.Sprintf("%s: link %q: an anchor into a file that is not Markdown", l.at(), target))
				continue
			}
			anchors, err := anchorsOf(resolved)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: link %q: %v", l.at(), target, err))
				continue
			}
			if !anchors[anchor] {
				problems = append(problems, fmt.Sprintf("%s: link %q: no heading of %s has the anchor #%s", l.at(), target, resolved, anchor))
			}
		}
	}
	return problems
}

// stripCode drops inline code spans, so `[a](b)` in code is not a link.
func stripCode(s string) string { return inlineCode.ReplaceAllString(s, "") }

var anchorCache = map[string]map[string]bool{}

// anchorsOf returns the anchors GitHub gives the headings of a Markdown file.
func anchorsOf(path string) (map[string]bool, error) {
	if a, ok := anchorCache[path]; ok {
		return a, nil
	}
	doc, err := parse(path)
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, l := range doc.prose {
		m := heading.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		slug := slugify(m[1])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	anchorCache[path] = anchors
	return anchors, nil
}

// slugify is GitHub's heading anchor: lower case, punctuation dropped but
// hyphens and underscores, spaces to hyphens.
func slugify(h string) string {
	h = link.ReplaceAllString(h, "]") // [text](url) keeps its text
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

var repoPath = regexp.MustCompile(`^(cmd|pkg|hack|deploy|crds|examples|docs|test)/[A-Za-z0-9_./-]*$`)

// checkPaths: an inline code span that looks like a path of this repository
// names something that exists.
func checkPaths(doc *document) []string {
	var problems []string
	for _, l := range doc.prose {
		for _, m := range inlineCode.FindAllStringSubmatch(l.text, -1) {
			p := m[1]
			if !repoPath.MatchString(p) {
				continue
			}
			if _, err := os.Stat(p); err != nil {
				problems = append(problems, fmt.Sprintf("%s: `%s` does not exist", l.at(), p))
			}
		}
	}
	return problems
}

var forbidden = regexp.MustCompile(`(?i)\bissue #?\d+|DESIGN\.md`)

// checkWords: no issue numbers, no DESIGN.md.
func checkWords(doc *document) []string {
	var problems []string
	for _, ls := range [][]line{doc.prose, doc.commands} {
		for _, l := range ls {
			if m := forbidden.FindString(l.text); m != "" {
				problems = append(problems, fmt.Sprintf("%s: %q: the docs name no issues and no DESIGN.md", l.at(), m))
			}
		}
	}
	return problems
}

var substitution = regexp.MustCompile(`\$\([^()]*\)|\$\{[^{}]*\}`)

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
	for _, part := range regexp.MustCompile(`&&|\|\||;|\|`).Split(text, -1) {
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

// reasonsFile declares the task reasons the README's stuck table explains.
const reasonsFile = "pkg/apis/kuscia/v1alpha1/constants.go"

var reasonConst = regexp.MustCompile(`KusciaTaskReason = "([A-Za-z]+)"`)

// checkReasons: every task reason is in the README, as `Reason`.
func checkReasons(doc *document) []string {
	data, err := os.ReadFile(reasonsFile)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", doc.path, err)}
	}
	var prose strings.Builder
	for _, l := range doc.prose {
		prose.WriteString(l.text)
		prose.WriteByte('\n')
	}
	var problems []string
	for _, m := range reasonConst.FindAllStringSubmatch(string(data), -1) {
		if !strings.Contains(prose.String(), "`"+m[1]+"`") {
			problems = append(problems, fmt.Sprintf("%s: the reason `%s` (%s) is not explained", doc.path, m[1], reasonsFile))
		}
	}
	return problems
}
