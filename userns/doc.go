// Package userns knows how an unprivileged user gets more than one ID inside
// a user namespace: it reads the subordinate ID ranges of /etc/subuid and
// /etc/subgid (subuid(5)), checks that the setuid helpers newuidmap and
// newgidmap (Debian package uidmap) are usable, builds their argument lists,
// and explains, with the sysctl to change, why the kernel refuses to create a
// user namespace at all.
//
// The package has no state and starts no process except the two helpers.
package userns
