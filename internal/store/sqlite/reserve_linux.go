package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
)

// fsSize is the size of the file system holding path.
func fsSize(path string) (int64, bool) {
	var st syscall.Statfs_t
	if syscall.Statfs(filepath.Dir(path), &st) != nil {
		return 0, false
	}
	return int64(st.Blocks) * int64(st.Bsize), true
}

// allocateFile gives f size bytes of disk (not a sparse file, which would
// reserve nothing).
func allocateFile(f *os.File, size int64) error {
	return syscall.Fallocate(int(f.Fd()), 0, 0, size)
}
