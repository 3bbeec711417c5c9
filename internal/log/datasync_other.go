//go:build !linux

package log

// datasync flushes a file to stable storage.
func datasync(f file) error { return f.Sync() }
