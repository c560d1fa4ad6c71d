package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// printConfig prints the regular file at path, or every regular file under
// the folder at path (lexical order), each as "==> PATH <==" then its
// content. The kubelet mounts a ConfigMap folder through symlinks
// (..data/...); those are followed for the top path only, and the walk skips
// the ..data entries so each file is printed once, by its own name.
func printConfig(w io.Writer, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if !info.IsDir() {
		return printFile(w, path)
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != path && len(d.Name()) > 1 && d.Name()[:2] == ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || (len(d.Name()) > 1 && d.Name()[:2] == "..") {
			return nil
		}
		// A ConfigMap's key is a symlink into ..data: print what it names.
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		return printFile(w, p)
	})
}

func printFile(w io.Writer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	fmt.Fprintf(w, "==> %s <==\n%s", path, data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		fmt.Fprintln(w)
	}
	return nil
}
