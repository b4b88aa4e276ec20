// Package image unpacks root file systems into burrow's image store: tar
// archives (plain, gzip or zstd; docker export, mmdebstrap or debootstrap
// output) and directories.
//
// It runs as root of the sandbox's user namespace, so that owners in the
// archive (0, 1000, ...) become the same IDs inside a sandbox (the user's
// subordinate IDs outside). Every path is created through a directory fd
// resolved with RESOLVE_IN_ROOT, so an entry can never land outside the
// destination: names with ".." or a leading "/" are refused and counted,
// and a symlink the archive made earlier resolves inside the root, never
// through to the host (the class of CVE-2019-14271 and tar-slip bugs).
// Device nodes are skipped and counted.
package image
