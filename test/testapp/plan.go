package main

import (
	"fmt"
	"strconv"
	"time"
)

// The outcomes of KWOK_OUTCOME, as the kwok stages read it.
type outcome string

const (
	// outcomeSucceed: KWOK_OUTCOME unset; exit 0 after the delay.
	outcomeSucceed outcome = "succeed"
	// outcomeFail: KWOK_OUTCOME=fail; exit KWOK_EXIT_CODE after the delay.
	outcomeFail outcome = "fail"
	// outcomeRun: KWOK_OUTCOME=run or any other value; run until stopped.
	outcomeRun outcome = "run"
)

// The defaults of hack/kwok/stages.yaml.
const (
	defaultDelay    = 2 * time.Second
	defaultExitCode = 1
)

// plan is how the application ends.
type plan struct {
	outcome  outcome
	delay    time.Duration // before exiting; unused by outcomeRun
	exitCode int           // outcomeFail only
	message  string        // outcomeFail only: the termination message
}

// planFromEnv reads the KWOK_* variables (os.LookupEnv: an empty value is
// not an unset one) with the stages' meanings. A value
// the stages would also ignore falls back to their default, with a warning.
func planFromEnv(lookupEnv func(string) (string, bool)) (plan, []string) {
	var warnings []string
	p := plan{outcome: outcomeSucceed, delay: defaultDelay}
	if v, set := lookupEnv("KWOK_OUTCOME"); set {
		p.outcome = outcomeRun
		if v == "fail" {
			p.outcome = outcomeFail
		}
	}
	if v, set := lookupEnv("KWOK_DELAY"); set {
		switch d, err := time.ParseDuration(v); {
		case v == "":
			p.delay = 0
		case err != nil:
			warnings = append(warnings, fmt.Sprintf("KWOK_DELAY=%q is not a Go duration; waiting the default %s", v, defaultDelay))
		case d < 0:
			p.delay = 0
		default:
			p.delay = d
		}
	}
	if p.outcome != outcomeFail {
		return p, warnings
	}
	p.exitCode = defaultExitCode
	p.message, _ = lookupEnv("KWOK_MESSAGE")
	if v, set := lookupEnv("KWOK_EXIT_CODE"); set && v != "" {
		code, err := strconv.Atoi(v)
		if err != nil || code < 1 || code > 255 {
			warnings = append(warnings, fmt.Sprintf("KWOK_EXIT_CODE=%q is not an exit code from 1 to 255; exiting with %d", v, defaultExitCode))
		} else {
			p.exitCode = code
		}
	}
	return p, warnings
}
