package mysql

// SetRowsPerInfile changes the LOAD DATA chunk size until restore is
// called.
func SetRowsPerInfile(n int64) (restore func()) {
	old := rowsPerInfile
	rowsPerInfile = n
	return func() { rowsPerInfile = old }
}

// DisableInfile makes Load use multi-row INSERTs until restore is called.
func DisableInfile() (restore func()) {
	infileDisabled = true
	return func() { infileDisabled = false }
}
