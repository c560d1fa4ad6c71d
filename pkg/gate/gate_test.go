package gate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

func TestIsOpen(t *testing.T) {
	for value, want := range map[string]bool{
		"open":         true,
		"open\n":       true,
		"  open \t\n":  true,
		"":             false,
		"closed":       false,
		"Open":         false,
		"opened":       false,
		"open open":    false,
		"\x00open":     false,
		"not open yet": false,
		"\u00a0open":   false, // ASCII white space only, as the kwok stages see it
		"open\v":       false,
	} {
		assert.Equal(t, want, IsOpen(value), "IsOpen(%q)", value)
	}
}

func TestParseDeadline(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		value   string
		want    time.Time
		wantErr string
	}{
		{value: "2026-03-04T05:11:07Z", want: now.Add(5 * time.Minute)},
		{value: " 2026-03-04T06:11:07+01:00 ", want: now.Add(5 * time.Minute)},
		{value: "330s", want: now.Add(330 * time.Second)},
		{value: "1h2m", want: now.Add(62 * time.Minute)},
		{value: "", wantErr: "deadline is empty"},
		{value: "0s", wantErr: "a duration must be positive"},
		{value: "-5s", wantErr: "a duration must be positive"},
		{value: "tomorrow", wantErr: `deadline "tomorrow" is neither an RFC 3339 time nor a duration`},
		{value: "2026-03-04 05:11:07", wantErr: "neither an RFC 3339 time nor a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := ParseDeadline(tt.value, now)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %s, want %s", got, tt.want)
		})
	}
}

// A formatted deadline parses back to itself (whole seconds, any zone).
func TestFormatDeadlineRoundTrips(t *testing.T) {
	zone := time.FixedZone("UTC+8", 8*3600)
	for _, in := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC),
		time.Date(2026, 1, 2, 11, 4, 5, 0, zone),
	} {
		s := FormatDeadline(in)
		assert.Equal(t, "2026-01-02T03:04:05Z", s)
		back, err := ParseDeadline(s, time.Time{})
		require.NoError(t, err)
		assert.True(t, in.Truncate(time.Second).Equal(back))
	}
}

func TestDeadlineMessage(t *testing.T) {
	deadline := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	assert.Equal(t,
		`kuscia-gate: deadline 2026-01-02T03:04:05Z passed with the gate closed (pod annotation kuscia.secretflow/gate never read "open")`,
		DeadlineMessage(deadline))
	// Short enough for a termination message (the kubelet keeps 4096 bytes).
	assert.Less(t, len(DeadlineMessage(deadline)), 4096)
}

func TestOpenPatch(t *testing.T) {
	patch, err := OpenPatch(types.UID("uid-1"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"metadata":{"uid":"uid-1","annotations":{"kuscia.secretflow/gate":"open"}}}`, string(patch))

	// Applied as a merge patch it opens the gate and keeps other annotations.
	pod := `{"metadata":{"name":"p","uid":"uid-1","annotations":{"kuscia.secretflow/gate":"closed","other":"x"}}}`
	merged, err := jsonpatch.MergePatch([]byte(pod), patch)
	require.NoError(t, err)
	var got struct {
		Metadata struct {
			UID         string            `json:"uid"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(merged, &got))
	assert.Equal(t, "uid-1", got.Metadata.UID)
	assert.Equal(t, map[string]string{Annotation: Open, "other": "x"}, got.Metadata.Annotations)

	// On a newer pod of the same name the patch would change the UID, which
	// the API server refuses (checked against a real one in pkg/e2e).
	other := `{"metadata":{"name":"p","uid":"uid-2"}}`
	merged, err = jsonpatch.MergePatch([]byte(other), patch)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(merged, &got))
	assert.Equal(t, "uid-1", got.Metadata.UID, "the patch carries the UID it was made for")

	_, err = OpenPatch("")
	assert.ErrorContains(t, err, "pod UID is empty")
}
