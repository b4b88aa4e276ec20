package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/burrow-sandbox/burrow/slirp"
	"golang.org/x/sys/unix"
)

// network is a run's resolved networking.
type network struct {
	mode    slirp.Mode
	options *slirp.Options // nil without a user-mode driver
	etc     map[string]string
	dir     string
}

func (n *network) cleanup() {
	if n != nil && n.dir != "" {
		os.RemoveAll(n.dir)
	}
}

// prepareNetwork checks the network options before anything starts: the
// driver is installed, every published port is free and allowed, the
// nameservers are addresses. It writes the sandbox's resolv.conf, hosts
// and hostname in a private runtime directory.
func prepareNetwork(req request, debug io.Writer) (*network, error) {
	m := req.NetMode
	if m == "" {
		m = "none"
	}
	mode, err := slirp.ParseMode(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.what("net", "--net"), err)
	}
	if mode, err = slirp.Resolve(mode); err != nil {
		return nil, err
	}
	n := &network{mode: mode}
	var ports []slirp.Port
	for _, s := range req.Publish {
		p, err := slirp.ParsePort(s)
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	if len(ports) > 0 && !mode.UserMode() {
		return nil, fmt.Errorf("--publish needs user-mode networking (the network is %q): add --net (or --net=pasta, --net=slirp4netns)", mode)
	}
	for _, d := range req.DNS {
		if err := slirp.ValidDNS(d); err != nil {
			return nil, err
		}
	}
	if req.AllowLo && !mode.UserMode() {
		return nil, fmt.Errorf("--allow-host-loopback needs user-mode networking (the network is %q): add --net", mode)
	}
	if err := slirp.CheckPorts(ports); err != nil {
		return nil, err
	}
	if mode == slirp.Host {
		return n, nil // the host's /etc files are right for the host's network
	}
	rt, err := ensureRuntimeDir()
	if err != nil {
		return nil, err
	}
	sweepNetDirs(rt)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	n.dir = filepath.Join(rt, fmt.Sprintf("net-%d-%s", os.Getpid(), hex.EncodeToString(b)))
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return nil, fmt.Errorf("network state: %w", err)
	}
	if n.etc, err = slirp.Files(n.dir, mode, req.Hostname, req.DNS); err != nil {
		n.cleanup()
		return nil, fmt.Errorf("network state: %w", err)
	}
	if mode == slirp.None {
		delete(n.etc, "resolv.conf") // nothing to resolve with: keep the host's
	}
	if mode.UserMode() {
		n.options = &slirp.Options{Mode: mode, AllowHostLoopback: req.AllowLo, Ports: ports, StateDir: n.dir, Log: debug}
	}
	return n, nil
}

// bareNet turns a value-less --net (followed by another option, "--" or
// nothing) into --net=auto: urfave would take the next word as its value.
func bareNet(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "--net" || a == "-net") && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			a = "--net=auto"
		}
		out = append(out, a)
	}
	return out
}

// sweepNetDirs removes the network directories of burrows that are gone
// (killed before their clean-up ran): each is named net-PID-RANDOM.
func sweepNetDirs(rt string) {
	dirs, _ := filepath.Glob(filepath.Join(rt, "net-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(d), "net-"), "-", 2)[0])
		if err != nil || unix.Kill(pid, 0) == unix.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}
