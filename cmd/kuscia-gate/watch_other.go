//go:build !linux

package main

import "errors"

// watchDir has no watch outside Linux: the gate polls only.
func watchDir(string) (<-chan struct{}, func(), error) {
	return nil, nil, errors.New("no file watch on this platform")
}
