package steps

// UnverifiedError is what a rollback's verify returns when everything it
// can check passed (the database, files and images are back, the app runs
// the old version and is healthy) but one thing it cannot check (a schema
// head no profile value can be compared with). The runner finishes the
// rollback as such and says what went unchecked: the stack is as it was,
// not "half-restored".
type UnverifiedError struct {
	What string // what could not be checked, and why
}

func (e *UnverifiedError) Error() string { return "restored, but not verified: " + e.What }
