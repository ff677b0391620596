//go:build !linux

package bench

import "errors"

// becomeSubreaper is Linux only; the benchmark itself skips elsewhere.
func becomeSubreaper() error {
	return errors.New("child subreapers are a Linux feature")
}
