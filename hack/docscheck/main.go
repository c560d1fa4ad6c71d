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
	"fmt"
	"os"
	"path/filepath"
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
