// Checks of the prose: links, repository paths, forbidden words, the
// README's reasons.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
