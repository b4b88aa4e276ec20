package slirp

import (
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
)

// startPasta runs pasta for the network namespace of pid, in the
// foreground, as a child of burrow that dies with it.
//
// Why not rootlesskit's pasta driver: it lets pasta daemonize and returns
// no way to stop it, and pasta, attached to a pid, holds the namespace
// itself and never notices the sandbox ended (its --no-netns-quit logic
// covers namespaces bound to a path only): measured here, every sandbox
// left a pasta behind. The options are rootlesskit's (pkg/network/pasta),
// minus implicit port forwarding, which would publish every port the
// sandbox binds on every host address.
func startPasta(pid int, o Options) (func() error, error) {
	args := []string{
		"--foreground", "--stderr", "--quiet",
		"--ns-ifname=" + Interface,
		"--mtu=" + strconv.Itoa(MTU),
		"--config-net",
		"--address=" + ChildIP,
		"--netmask=24",
		"--gateway=" + Gateway,
		"--dns-forward=" + DNS,
		"--ipv4-only",
		"--tcp-ports=none", "--udp-ports=none",
	}
	if !o.AllowHostLoopback {
		// The gateway address is the host's loopback unless this.
		args = append(args, "--no-map-gw")
	}
	args = append(args, strconv.Itoa(pid))
	cmd := exec.Command("pasta", args...)
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		// The parent-death signal fires when the forking thread ends
		// (golang/go#27505): keep it for pasta's whole life.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("pasta: %w", err)
	}
	return func() error {
		_ = cmd.Process.Kill()
		<-done
		return nil
	}, nil
}
