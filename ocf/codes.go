// Package ocf implements the OCF resource-agent protocol once for every
// ocf-lvs agent: parameters declared once (parsing, validation and
// meta-data come from that one declaration), action dispatch, exit codes
// with ocf-exit-reason lines, state files and logging.
package ocf

import "fmt"

// OCF exit codes (OCF resource agent API, and Pacemaker's meaning of them).
const (
	Success          = 0 // OCF_SUCCESS
	ErrGeneric       = 1 // OCF_ERR_GENERIC
	ErrArgs          = 2 // OCF_ERR_ARGS
	ErrUnimplemented = 3 // OCF_ERR_UNIMPLEMENTED
	ErrPerm          = 4 // OCF_ERR_PERM
	ErrInstalled     = 5 // OCF_ERR_INSTALLED
	ErrConfigured    = 6 // OCF_ERR_CONFIGURED
	NotRunning       = 7 // OCF_NOT_RUNNING
	RunningPromoted  = 8 // OCF_RUNNING_PROMOTED (was RUNNING_MASTER)
	FailedPromoted   = 9 // OCF_FAILED_PROMOTED (was FAILED_MASTER)
)

// Error is an action's outcome other than success: an OCF exit code and,
// for failures, the reason Pacemaker shows to the operator.
type Error struct {
	Code   int
	Reason string
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Reason
}

// Errorf returns an *Error with the given code and formatted reason.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// ErrNotRunning is what monitor returns for a cleanly stopped resource.
var ErrNotRunning = &Error{Code: NotRunning}

// CodeOf maps an action's error to its exit code: nil is success, an
// *Error carries its own code, anything else is a generic failure.
func CodeOf(err error) int {
	if err == nil {
		return Success
	}
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	return ErrGeneric
}
