package sandbox

import (
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ExistsInside reports whether path names a file the sandbox will see:
// inside the image when rootfs is set (resolved within it, so a link
// cannot point out), else under one of the shared HostDirs.
func ExistsInside(rootfs, path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	if rootfs == "" {
		top := "/" + strings.SplitN(strings.TrimPrefix(path, "/"), "/", 2)[0]
		if !slices.Contains(HostDirs, top) {
			return false
		}
		var st unix.Stat_t
		return unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR
	}
	dir, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dir)
	fd, err := openIn(dir, path, unix.O_PATH)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR
}
