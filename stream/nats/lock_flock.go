//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package nats

import (
	"errors"
	"os"
	"syscall"
)

// lockDir takes an exclusive, non-blocking lock on path (created if
// missing). held reports that another process (or another open in this
// process) holds it. The lock goes away with the process, even on a crash.
func lockDir(path string) (f *os.File, held bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, err
	}
	return f, false, nil
}
