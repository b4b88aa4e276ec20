package seccomp

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Native is the architecture burrow runs on, if it has a table.
func Native() (Arch, bool) {
	a, ok := Arches[runtime.GOARCH]
	return a, ok
}

// Install loads prog on the calling thread, which must have no_new_privs
// set (or CAP_SYS_ADMIN); the thread's children inherit it. The caller
// locks its goroutine to the thread and lets the thread die with it: the
// filter must never run other goroutines' code.
func Install(prog Program) error {
	if len(prog) == 0 {
		return nil
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		return fmt.Errorf("install the seccomp filter: %w", errno)
	}
	return nil
}
