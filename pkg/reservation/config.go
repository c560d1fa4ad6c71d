package reservation

import (
	"errors"
	"fmt"
	"time"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// ConfigFor returns the schedule configuration of a task with every default
// applied: resourceReservedSeconds 30, lifecycleSeconds 300,
// retryIntervalSeconds 30 and minReservedMembers the number of parties.
//
// The CRD schema rejects the values ConfigFor rejects; the error is for
// clusters that do not run that validation, and names the offending field
// (e.g. "spec.scheduleConfig.lifecycleSeconds: must be at least 1, got 0").
// It is permanent: the controller fails the task with reason InvalidSpec.
func ConfigFor(spec *kusciav1alpha1.KusciaTaskSpec) (Config, error) {
	parties := len(spec.Parties)
	if parties == 0 {
		return Config{}, errors.New("spec.parties: must list at least 1 party")
	}
	cfg := Config{
		ResourceReserved:   DefaultResourceReservedSeconds * time.Second,
		Lifecycle:          DefaultLifecycleSeconds * time.Second,
		RetryInterval:      DefaultRetryIntervalSeconds * time.Second,
		MinReservedMembers: parties,
	}
	sc := spec.ScheduleConfig
	if sc == nil {
		return cfg, nil
	}
	var err error
	if cfg.ResourceReserved, err = seconds("resourceReservedSeconds", sc.ResourceReservedSeconds, cfg.ResourceReserved); err != nil {
		return Config{}, err
	}
	if cfg.Lifecycle, err = seconds("lifecycleSeconds", sc.LifecycleSeconds, cfg.Lifecycle); err != nil {
		return Config{}, err
	}
	if cfg.RetryInterval, err = seconds("retryIntervalSeconds", sc.RetryIntervalSeconds, cfg.RetryInterval); err != nil {
		return Config{}, err
	}
	if cfg.MinReservedMembers, err = minReservedMembers(sc.MinReservedMembers, parties); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// seconds reads one optional scheduleConfig duration field, which must be at
// least one second.
func seconds(field string, value *int32, def time.Duration) (time.Duration, error) {
	if value == nil {
		return def, nil
	}
	if *value < 1 {
		return 0, fmt.Errorf("spec.scheduleConfig.%s: must be at least 1, got %d", field, *value)
	}
	return time.Duration(*value) * time.Second, nil
}

// minReservedMembers reads scheduleConfig.minReservedMembers, which must be
// between 1 and the number of parties.
func minReservedMembers(value *int32, parties int) (int, error) {
	const field = "spec.scheduleConfig.minReservedMembers"
	switch {
	case value == nil:
		return parties, nil
	case *value < 1:
		return 0, fmt.Errorf("%s: must be at least 1, got %d", field, *value)
	case int(*value) > parties:
		return 0, fmt.Errorf("%s: must not be greater than the number of parties (%d), got %d", field, parties, *value)
	}
	return int(*value), nil
}

// MinReservedPods returns how many of a party's pods must be reserved:
// party.minReservedPods, by default all its replicas. index is the party's
// position in spec.parties and only names the field in the error, e.g.
// "spec.parties[1].minReservedPods: must be at least 1, got 0". A value
// above replicas is an error too (permanent: the controller fails the task
// with reason InvalidTemplate). A party of 0 replicas needs 0 pods and
// counts as reserved.
func MinReservedPods(index int, party *kusciav1alpha1.PartyInfo, replicas int) (int, error) {
	if party.MinReservedPods == nil {
		return replicas, nil
	}
	field := fmt.Sprintf("spec.parties[%d].minReservedPods", index)
	value := int(*party.MinReservedPods)
	switch {
	case value < 1:
		return 0, fmt.Errorf("%s: must be at least 1, got %d", field, value)
	case value > replicas:
		return 0, fmt.Errorf("%s: must not be greater than the party's replicas (%d), got %d", field, replicas, value)
	}
	return value, nil
}
