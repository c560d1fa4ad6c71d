package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeDocs writes files (name → content) into a temporary folder and
// returns it.
func writeDocs(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return dir
}

func texts(ls []line) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.text)
	}
	return out
}

func TestParseSeparatesProseFromCommands(t *testing.T) {
	dir := writeDocs(t, map[string]string{"a.md": strings.Join([]string{
		"# Title",
		"```shell",
		"$ make demo",
		"# a comment",
		"kubectl kuscia get",
		"```",
		"```yaml",
		"kind: KusciaTask",
		"$ make test",
		"```",
		"after",
	}, "\n")})
	doc, err := parse(filepath.Join(dir, "a.md"))
	require.NoError(t, err)
	assert.Equal(t, []string{"# Title", "after"}, texts(doc.prose))
	assert.Equal(t, []string{"make demo", "kubectl kuscia get", "make test"}, texts(doc.commands))
	assert.Equal(t, 3, doc.commands[0].n, "line numbers count from 1")
}

func TestSlugify(t *testing.T) {
	for heading, want := range map[string]string{
		"My task is stuck":                          "my-task-is-stuck",
		"What it is, and what it is not":            "what-it-is-and-what-it-is-not",
		"`--pod-groups` and [PodGroups](x.md)":      "--pod-groups-and-podgroups",
		"Pulling the images during the reservation": "pulling-the-images-during-the-reservation",
	} {
		assert.Equal(t, want, slugify(heading), heading)
	}
}

func TestCheckLinks(t *testing.T) {
	dir := writeDocs(t, map[string]string{
		"README.md": strings.Join([]string{
			"[ok](docs/b.md#second) [self](#top) [dup](docs/b.md#second-1)",
			"[gone](docs/missing.md) [bad anchor](docs/b.md#nowhere) [web](https://example.com/x#y)",
			"`[in code](docs/missing.md)` [file anchor](LICENSE#x)",
			"# Top",
		}, "\n"),
		"docs/b.md": "# Second\n## Second\n",
		"LICENSE":   "text\n",
	})
	doc, err := parse(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	problems := checkLinks(doc)
	require.Len(t, problems, 3, "%q", problems)
	assert.Contains(t, problems[0], `link "docs/missing.md"`)
	assert.Contains(t, problems[1], "no heading of")
	assert.Contains(t, problems[1], "#nowhere")
	assert.Contains(t, problems[2], "not Markdown")
	assert.True(t, strings.HasPrefix(problems[0], filepath.Join(dir, "README.md")+":2:"), problems[0])
}

func TestCheckWords(t *testing.T) {
	doc := &document{
		prose:    []line{{file: "a.md", n: 1, text: "fixed in Issue 10"}, {file: "a.md", n: 2, text: "tissue 3 is fine"}},
		commands: []line{{file: "a.md", n: 3, text: "cat ../DESIGN.md"}},
	}
	problems := checkWords(doc)
	require.Len(t, problems, 2, "%q", problems)
	assert.Contains(t, problems[0], "a.md:1")
	assert.Contains(t, problems[1], "DESIGN.md")
}

func TestCheckCommandMakeTargets(t *testing.T) {
	targets := map[string]bool{"demo": true, "test": true}
	check := func(text string) []string {
		// Lines naming no binary need none.
		return checkCommand(line{file: "a.md", n: 1, text: text}, targets, nil)
	}
	assert.Empty(t, check("make demo"))
	assert.Empty(t, check("CI=1 make test N=50 -j2 # every lane"))
	assert.Empty(t, check("echo $(make nothing) && make demo"), "a substitution is a value")
	problems := check("make demo && make bnech")
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "make bnech: no such target")
}

func TestMakeTargets(t *testing.T) {
	dir := writeDocs(t, map[string]string{"Makefile": ".PHONY: demo\ndemo: build\n\t@echo\nbuild:\nVAR := x\n"})
	targets, err := makeTargets(filepath.Join(dir, "Makefile"))
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"demo": true, "build": true}, targets)
}

func TestHelpParsing(t *testing.T) {
	help := strings.Join([]string{
		"Usage:",
		"  kubectl-kuscia [command]",
		"",
		"Available Commands:",
		"  get         List tasks",
		"  validate    Check tasks",
		"",
		"Flags:",
		"  -o, --output string   Output format",
		"      --party string    A party",
		"  -kubeconfig string",
	}, "\n")
	assert.Equal(t, map[string]bool{"get": true, "validate": true}, commandsOf(help))
	flags := flagsOf(help)
	for _, f := range []string{"o", "output", "party", "kubeconfig", "help", "h"} {
		assert.True(t, flags[f], f)
	}
	assert.False(t, flags["string"])
}

func TestCheckFlagsWithCachedHelp(t *testing.T) {
	b := &binaries{flags: map[string]map[string]bool{
		"kubectl-kuscia get": {"o": true, "output": true},
	}, verbs: map[string]bool{"get": true}}
	l := line{file: "a.md", n: 7, text: ""}
	assert.Empty(t, b.checkPlugin(l, []string{"get", "-o", "wide", "--output=yaml", "--<flag>"}))
	problems := b.checkPlugin(l, []string{"get", "--wide"})
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "--wide is not a flag of kubectl-kuscia get")
	problems = b.checkPlugin(l, []string{"gte"})
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "no such verb (the plugin has get)")
}
