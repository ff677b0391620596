package playbook

import (
	"errors"
	"fmt"

	"fleetrun.dev/fleet/diag"
)

func newError(file string, line int, hint, format string, args ...any) *diag.Error {
	return &diag.Error{Pkg: "playbook", File: file, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// inPlaybook marks an error from the vars decoder as this package's, so
// that it reads "playbook: FILE:LINE: ...".
func inPlaybook(err error) error {
	var e *diag.Error
	if errors.As(err, &e) {
		e.Pkg = "playbook"
	}
	return err
}
