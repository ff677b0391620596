//go:build !unix

package hostkey

import "os"

// flock is a no-op where flock(2) does not exist: appends from one fleet
// process are still serialised by the DB's mutex, and each is one write.
func flock(*os.File) error { return nil }
