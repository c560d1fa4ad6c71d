// Package mark lets the controller recognise the pods it made. Every pod it
// creates carries Annotation: an HMAC-SHA256 over the pod's namespace,
// name, task UID and reservation round, keyed by a secret only the
// controller holds (see LoadOrCreateKey). Labels and owner references are
// easy to copy; a mark is not: whoever can create a pod in a domain's
// namespace cannot compute one, and a mark copied from another pod fails
// because the pod's namespace, name or round differ.
package mark

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Annotation holds a pod's mark.
const Annotation = "kuscia.secretflow/mark"

// RoundAnnotation is the annotation a pod's reservation round is read from
// (builder.AnnotationRound; repeated here so this package stays a leaf).
const RoundAnnotation = "kuscia.secretflow/reservation-round"

// KeySize is the size of a key LoadOrCreateKey makes, and the least it
// accepts: HMAC-SHA256 gains nothing from a longer one.
const KeySize = 32

// Marker signs and checks marks with one key.
type Marker struct {
	key []byte
}

// New is a Marker over key, which must be at least KeySize bytes.
func New(key []byte) (*Marker, error) {
	if len(key) < KeySize {
		return nil, fmt.Errorf("mark key has %d bytes, needs at least %d", len(key), KeySize)
	}
	return &Marker{key: append([]byte(nil), key...)}, nil
}

// Sign is the mark of the pod namespace/name of the task taskUID in round.
// The four fields are joined with "/", which none of them can contain
// (namespaces and pod names are DNS names, UIDs are UUIDs, rounds are
// numbers), so two different pods never sign the same message.
func (m *Marker) Sign(namespace, name string, taskUID types.UID, round string) string {
	return base64.RawURLEncoding.EncodeToString(m.mac(namespace, name, taskUID, round))
}

func (m *Marker) mac(namespace, name string, taskUID types.UID, round string) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(namespace + "/" + name + "/" + string(taskUID) + "/" + round))
	return h.Sum(nil)
}

// Stamp marks a pod the controller is about to create for the task, for
// the round its round annotation names. It sets an annotation on pod,
// which must not be shared.
func (m *Marker) Stamp(pod *corev1.Pod, taskUID types.UID) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[Annotation] = m.Sign(pod.Namespace, pod.Name, taskUID, pod.Annotations[RoundAnnotation])
}

// Valid reports whether the pod carries the mark this controller gave it
// for the task, in the round its round annotation names. The MACs are
// compared in constant time.
func (m *Marker) Valid(pod *corev1.Pod, taskUID types.UID) bool {
	got, err := base64.RawURLEncoding.DecodeString(pod.Annotations[Annotation])
	if err != nil || len(got) == 0 {
		return false
	}
	round, ok := pod.Annotations[RoundAnnotation]
	if !ok {
		return false
	}
	return hmac.Equal(got, m.mac(pod.Namespace, pod.Name, taskUID, round))
}
