package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// watchEvents are the directory events that may mean the gate file changed.
// The kubelet updates a downward-API volume by writing a new timestamped
// folder and renaming a symlink (..data) over the old one: a rename into the
// folder (IN_MOVED_TO). The others cover a plain file replaced or rewritten,
// as in tests or a hand-run gate.
const watchEvents = unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_ATTRIB

// watchDir signals on the returned channel (buffered, one pending signal at
// most) whenever something in dir changes, until stop is called. The
// inotify descriptor is non-blocking, so reads go through Go's poller and
// stop's Close ends the reading goroutine.
func watchDir(dir string) (changed <-chan struct{}, stop func(), err error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, watchEvents); err != nil {
		_ = unix.Close(fd)
		return nil, nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 1)
	go func() {
		// Only "something changed" matters, not which event: the waiter
		// reads the file again either way.
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default: // a signal is already pending
			}
		}
	}()
	return ch, func() { _ = f.Close() }, nil
}
