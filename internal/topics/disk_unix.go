//go:build linux || darwin || freebsd

package topics

import "syscall"

// volumeBytes returns the size of the volume holding dir and the bytes an
// unprivileged process may still use on it.
func volumeBytes(dir string) (total, usable int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1, -1, err
	}
	bs := int64(st.Bsize)
	return int64(st.Blocks) * bs, int64(st.Bavail) * bs, nil
}
