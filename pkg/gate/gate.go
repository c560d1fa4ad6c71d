package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// The gate's names: the pod annotation and its values, the init container,
// the volume and file it reads, the binary and its exit code.
const (
	// Annotation holds the gate's state on a pod: Open or anything else
	// (Closed, or absent) for closed.
	Annotation = "kuscia.secretflow/gate"
	// Open is the only annotation value that opens the gate.
	Open = "open"
	// Closed is the value a gated pod is created with.
	Closed = "closed"

	// ContainerName names the gate's init container; hack/kwok/stages.yaml
	// recognizes gated pods by it.
	ContainerName = "kuscia-gate"
	// VolumeName names the downward-API volume projecting Annotation.
	VolumeName = "kuscia-gate"
	// MountPath is where the gate container mounts that volume.
	MountPath = "/etc/kuscia-gate"
	// FileName is the volume's one file, holding the annotation's value
	// (empty when the annotation is absent).
	FileName = "gate"
	// FilePath is the file the gate reads: MountPath/FileName.
	FilePath = MountPath + "/" + FileName

	// BinaryPath is where the gate binary lives in its image.
	BinaryPath = "/usr/local/bin/kuscia-gate"

	// When images are pulled during the reservation (see package doc), the
	// install container copies the binary from the gate image into the
	// emptyDir volume BinVolumeName, mounted at BinMountPath; the gate and
	// the pull-only containers then run InstalledBinaryPath from the
	// application's images.
	InstallContainerName = "kuscia-gate-install"
	// PullContainerPrefix starts the names of the pull-only init containers:
	// kuscia-pull-1, kuscia-pull-2, ... one per image of the pod other than
	// the gate's own.
	PullContainerPrefix = "kuscia-pull-"
	BinVolumeName       = "kuscia-gate-bin"
	BinMountPath        = "/.kuscia-gate"
	InstalledBinaryPath = BinMountPath + "/kuscia-gate"
	// ImageName is the name of the controller's own image, which ships the
	// gate binary: the name deploy/ runs and `make image` builds.
	ImageName = "kusciatask-controller"

	// ExitClosed is the gate's exit code when its deadline passed while
	// closed (or it was stopped before opening).
	ExitClosed = 1

	// DefaultContainerAnnotation names the container kubectl logs and exec
	// use when none is given.
	DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"
)

// PullContainerName is the name of the i-th pull-only init container,
// counting from 1.
func PullContainerName(i int) string {
	return fmt.Sprintf("%s%d", PullContainerPrefix, i)
}

// BeforeGate reports whether an init container of that name is one the
// gate adds ahead of itself (the install and pull-only containers): on a
// pod that pulls during the reservation, the kubelet runs them, pulling
// their images, before the gate starts to wait.
func BeforeGate(name string) bool {
	return name == InstallContainerName || strings.HasPrefix(name, PullContainerPrefix)
}

// space is the white space IsOpen ignores around "open": ASCII only, the
// same set as the regular expression of hack/kwok/stages.yaml.
const space = " \t\n\f\r"

// IsOpen reports whether an annotation value (or the gate file's content)
// opens the gate: "open", ignoring surrounding white space.
func IsOpen(value string) bool {
	return strings.Trim(value, space) == Open
}

// FormatDeadline renders a deadline the way the gate's --deadline flag takes
// it and its messages show it: RFC 3339 in UTC, whole seconds.
func FormatDeadline(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// ParseDeadline reads a --deadline value: an RFC 3339 time, or a positive Go
// duration ("330s") counted from now.
func ParseDeadline(value string, now time.Time) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, errors.New("deadline is empty: want an RFC 3339 time or a duration")
	}
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil {
		return time.Time{}, fmt.Errorf("deadline %q is neither an RFC 3339 time nor a duration", value)
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("deadline %q: a duration must be positive", value)
	}
	return now.Add(d), nil
}

// DeadlineMessage is the gate's termination message when its deadline passed
// while closed. hack/kwok/stages.yaml renders the same text for simulated
// pods.
func DeadlineMessage(deadline time.Time) string {
	return fmt.Sprintf("kuscia-gate: deadline %s passed with the gate closed (pod annotation %s never read %q)",
		FormatDeadline(deadline), Annotation, Open)
}

// OpenPatch is the JSON merge patch that opens the gate of the pod with the
// given UID. The UID is a precondition: the API server refuses to change a
// pod's UID, so the patch fails (422 Invalid) on a newer pod of the same name
// instead of opening it.
func OpenPatch(uid types.UID) ([]byte, error) {
	if uid == "" {
		return nil, errors.New("open gate: pod UID is empty")
	}
	patch := map[string]any{
		"metadata": map[string]any{
			"uid":         uid,
			"annotations": map[string]string{Annotation: Open},
		},
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("open gate: %w", err)
	}
	return data, nil
}
