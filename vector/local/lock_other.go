//go:build !unix

package local

// lockDir is a no-op where advisory file locks are not available: loads
// into one directory from several processes are then not serialised (each
// version file is still written whole and published by an atomic rename,
// so readers never see a partial one).
func lockDir(path string) (unlock func(), err error) {
	return func() {}, nil
}
