package sandbox

import (
	"os"

	"golang.org/x/sys/unix"
)

// stageEnv selects the stage of a re-executed burrow. It is the whole
// environment of the child and init stages: the caller's variables reach
// the command only through Spec.Env.
const stageEnv = "BURROW_STAGE"

// Stage runs the child or init stage if this process is one of them and
// returns its exit status with ok set; it returns ok false in the CLI
// process. main calls it before anything else.
func Stage() (code int, ok bool) {
	switch os.Getenv(stageEnv) {
	case "child":
		return childMain(), true
	case "init":
		return initMain(), true
	}
	return 0, false
}

// childMain waits in the new, still unmapped user namespace until the
// parent has written the ID maps, then re-executes burrow so that the exec
// happens as uid 0 of the mapped namespace: execve computes the new
// capability sets from the (now mapped) IDs, and so gains all of them.
// The exec keeps the pid (1 in the new pid namespace) and the fds.
func childMain() int {
	if _, err := expect(fdSock, msgMapped); err != nil {
		return CodeSetup
	}
	_ = unix.Exec(self(), os.Args, []string{stageEnv + "=init"})
	return CodeSetup
}

// self is the path of burrow's binary. Executing it by name rather than as
// /proc/self/exe gives the stages the command name "burrow" in ps and
// /proc/PID/comm instead of "exe".
func self() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "/proc/self/exe"
}
