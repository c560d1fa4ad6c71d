// Command pause is the pod sandbox ("pause") image of the local real node
// (hack/lib/realnode.sh): containerd keeps one such process per pod to hold
// the pod's namespaces. It does nothing but wait for SIGTERM or SIGINT, then
// exits 0. It runs as PID 1 of its own PID namespace, where a signal without a
// handler is ignored: hence the explicit handler.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
