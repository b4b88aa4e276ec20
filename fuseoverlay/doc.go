// Package fuseoverlay gives a sandbox copy-on-write file systems: an
// overlay of a read-only lower directory and a writable upper directory
// in the sandbox's state, mounted inside the sandbox's user namespace.
//
// Two drivers: the kernel's overlayfs, which an unprivileged user
// namespace may mount since Linux 5.11 with the userxattr option (its
// metadata then lives in user.overlay.* xattrs); and the fuse-overlayfs
// program (Debian package fuse-overlayfs), for kernels or file systems
// where that fails. Probe decides by mounting, never by the kernel
// version (containerd's overlayutils/check.go does the same).
//
// The package also reads an upper directory back: Changes turns it into
// added, modified and deleted paths, understanding the whiteouts and
// opaque directories of both drivers.
package fuseoverlay
