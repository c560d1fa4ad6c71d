// Reading Markdown: a file's prose and command lines, its headings' anchors.

package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"
)

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
