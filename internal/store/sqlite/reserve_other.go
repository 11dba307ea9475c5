//go:build !linux

package sqlite

import "os"

func fsSize(string) (int64, bool) { return 0, false }

// allocateFile writes size zero bytes, so that the file holds real blocks.
func allocateFile(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for written := int64(0); written < size; {
		n := min(int64(len(buf)), size-written)
		if _, err := f.WriteAt(buf[:n], written); err != nil {
			return err
		}
		written += n
	}
	return f.Sync()
}
