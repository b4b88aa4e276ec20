// Package sandbox runs a command in a rootless sandbox.
//
// One binary plays three stages, chosen by the BURROW_STAGE environment
// variable when it re-executes itself through /proc/self/exe:
//
//	parent (the CLI process, on the host)
//	  │ clone(CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|NEWUTS|NEWIPC|NEWCGROUP)
//	  ▼
//	child  (pid 1 of the new pid namespace; unmapped, no capabilities)
//	  │ ← "mapped" once the parent wrote uid_map/gid_map (newuidmap)
//	  │ execve(/proc/self/exe): the exec happens as uid 0 of the mapped
//	  ▼ namespace, so it gains every capability in it (rootlesskit's gainCaps)
//	init   (still pid 1)
//	    ← "spec": the resolved Spec, with its mount table
//	    hostname, loopback up, mount table, pivot_root, pty
//	    → "pty" (master fd by SCM_RIGHTS), "started" or "error"
//	    reaps zombies, forwards signals, exits with the command's status
//
// The kernel creates the user namespace of a clone before any other
// namespace of the same call and makes it their owner (kernel/nsproxy.c,
// create_new_namespaces), so all of them nest inside it.
//
// Parent and init talk over a SOCK_SEQPACKET socket pair, one JSON message a
// packet. Under --debug, init sends its slog records through a pipe and the
// parent prints them with the stage's name.
//
// A sandbox with state also gets a control socket: the parent binds it in
// the caller's runtime directory and hands the listening fd to init
// ("control", after the spec). Once the command runs, init accepts
// connections on it: "exec" (Exec, the client's stdio by SCM_RIGHTS) makes
// pid 1 fork another process in the sandbox; "kill" signals the command, or
// with All every process. See protocol.go for the messages.
package sandbox
