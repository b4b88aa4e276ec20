package slirp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"time"

	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin/opaque"
	"golang.org/x/sys/unix"
)

// ConfigureChild gives the sandbox's interface its address, MTU and
// default route, as rootlesskit's child does (one `ip -batch`), when the
// driver did not (slirp4netns). It runs in the sandbox's namespaces
// before pivot_root, with the host's ip(8).
func ConfigureChild(n *Net) error {
	if n != nil && n.WaitAddr {
		return waitAddr(n.Dev, n.IP, 10*time.Second)
	}
	if n == nil || !n.Configure {
		return nil
	}
	ip, err := lookPath("ip")
	if err != nil {
		return err
	}
	batch := fmt.Sprintf("link set %[1]s up\nlink set dev %[1]s mtu %[2]d\naddr add %[3]s/%[4]d dev %[1]s\nroute add default via %[5]s dev %[1]s\n",
		n.Dev, n.MTU, n.IP, n.Netmask, n.Gateway)
	cmd := exec.Command(ip, "-batch", "-")
	cmd.Stdin = bytes.NewBufferString(batch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("configure %s: %v: %s", n.Dev, err, bytes.TrimSpace(out))
	}
	return nil
}

// waitAddr waits until dev has the IPv4 address ip: pasta configures the
// interface from outside, after it started.
func waitAddr(dev, ip string, timeout time.Duration) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	want := net.ParseIP(ip).To4()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		ifr, err := unix.NewIfreq(dev)
		if err != nil {
			return err
		}
		if unix.IoctlIfreq(fd, unix.SIOCGIFADDR, ifr) == nil {
			if got, err := ifr.Inet4Addr(); err == nil && net.IP(got).Equal(want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not get its address %s from the network driver within %s", dev, ip, timeout)
}

// StartPortChild runs the sandbox's side of the builtin port driver: it
// dials the published ports inside the network namespace for the host
// side. It returns once its socket listens, so that the caller may
// pivot_root away from the host path of that socket.
func StartPortChild(n *Net) (stop func(), err error) {
	if n == nil || len(n.PortOpaque) == 0 {
		return func() {}, nil
	}
	quit := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- builtin.NewChildDriver(io.Discard).RunChildDriver(n.PortOpaque, quit, "") }()
	sock := n.PortOpaque[opaque.SocketPath]
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		select {
		case err := <-errc:
			return nil, fmt.Errorf("port driver: %w", err)
		default:
		}
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return func() { close(quit) }, nil
		}
	}
	close(quit)
	return nil, errors.New("port driver: the host side did not connect")
}

// lookPath finds a program in the standard directories: the sandbox's
// stages run with an empty environment.
func lookPath(prog string) (string, error) {
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := d + "/" + prog
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: install it (sudo apt-get install iproute2)", prog)
}
