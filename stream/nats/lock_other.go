//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package nats

import "os"

// lockDir cannot lock on this system: the caller must make sure only one
// process serves an embedded directory.
func lockDir(path string) (f *os.File, held bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	return f, false, err
}
