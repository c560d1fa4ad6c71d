// Package gate is the hold that makes a reservation real: every task pod
// carries a small init container, the gate, that blocks until the controller
// opens it. A bound pod whose gate is closed holds its node's resources (the
// kubelet admitted it) while none of the application's containers runs.
//
// # How the gate works
//
// The controller creates each pod with the annotation
// kuscia.secretflow/gate=closed and an init container running the
// kuscia-gate binary (cmd/kuscia-gate). A downward-API volume projects that
// annotation into the file /etc/kuscia-gate/gate; the binary reads the file
// whenever its folder changes (an inotify watch: the kubelet swaps the
// folder's ..data symlink on each update) and at every poll interval, and
// exits 0 once it reads "open" (surrounding white space ignored). The
// gate has no API access and no service-account token: the kubelet refreshes
// the file after the pod is updated (usually within seconds). When the task
// is reserved the controller opens a pod's gate with OpenPatch, a JSON merge
// patch that sets the annotation and carries the pod's UID, so a late patch
// never opens a newer pod of the same name (a later round).
//
// If the gate is still closed at its deadline (an absolute time, a bit after
// the task's lifecycle, passed as --deadline), the binary writes
// DeadlineMessage to the container's termination log and exits 1. With the
// pod's restartPolicy Never the pod then fails; a pod never hangs forever
// because the controller is gone.
//
// # Resources and security
//
// Package gatepod adds the gate to a pod. Init containers count toward a
// pod's effective request as max(largest init container, sum of app
// containers); the gate requests no more than the application does (so the
// effective request never grows), and sets limits equal to requests only
// when the application does (so a Guaranteed pod stays Guaranteed and a
// BestEffort pod stays BestEffort). Its security context passes the Pod
// Security "restricted" level whatever the application does, so the gate is
// never the reason a pod is refused.
//
// This package holds what the gate binary needs too (the names, the
// deadline, the wait); it does not import the Kubernetes API types, which
// would triple the binary's memory (3 MB resident as it is).
//
// # The image
//
// The gate binary ships in the controller's own image, at BinaryPath: a
// static Go binary with no shell, built from this repository, so nothing the
// gate runs comes from user input or a third-party image. A controller in a
// pod uses its own container's image for the gate, so wherever the
// controller's image comes from, the gate's does too; outside a cluster it
// uses DefaultImage, the versioned image `make image` builds. The
// controller's --gate-image flag overrides both.
package gate
