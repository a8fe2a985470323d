//go:build !linux

package app

import "errors"

// setCongestion fails: choosing a socket's congestion control algorithm is
// only supported on Linux.
func setCongestion(uintptr, string) error {
	return errors.New("only supported on Linux")
}
