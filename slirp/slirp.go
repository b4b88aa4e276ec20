package slirp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rootless-containers/rootlesskit/v2/pkg/network/slirp4netns"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin"
)

// Mode is a --net value.
type Mode string

// The modes. Auto picks the best installed user-mode driver.
const (
	None        Mode = "none"
	Host        Mode = "host"
	Pasta       Mode = "pasta"
	Slirp4netns Mode = "slirp4netns"
	Auto        Mode = "auto"
)

// ParseMode checks a --net value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case None, Host, Pasta, Slirp4netns, Auto:
		return m, nil
	}
	return "", fmt.Errorf("unknown network mode %q (want none, pasta, slirp4netns, host, or auto for the best installed)", s)
}

// UserMode reports whether m needs a driver process.
func (m Mode) UserMode() bool { return m == Pasta || m == Slirp4netns }

// Resolve turns Auto into pasta or slirp4netns, and checks that the
// driver's program is installed.
func Resolve(m Mode) (Mode, error) {
	if m == Auto {
		if _, err := exec.LookPath("pasta"); err == nil {
			return Pasta, nil
		}
		if _, err := exec.LookPath("slirp4netns"); err == nil {
			return Slirp4netns, nil
		}
		return "", errors.New("--net: neither pasta nor slirp4netns is installed; install one: sudo apt-get install passt (or slirp4netns)")
	}
	if m.UserMode() {
		if _, err := exec.LookPath(string(m)); err != nil {
			pkg := map[Mode]string{Pasta: "passt", Slirp4netns: "slirp4netns"}[m]
			return "", fmt.Errorf("--net=%s: %s is not installed; install it: sudo apt-get install %s", m, m, pkg)
		}
		if m == Slirp4netns {
			for _, p := range []string{"nsenter", "ip"} {
				if _, err := exec.LookPath(p); err != nil {
					return "", fmt.Errorf("--net=slirp4netns needs %s: sudo apt-get install util-linux iproute2", p)
				}
			}
		}
	}
	return m, nil
}

// The addresses inside, the same for both drivers (rootlesskit's).
const (
	Subnet    = "10.0.2.0/24"
	ChildIP   = "10.0.2.100"
	Gateway   = "10.0.2.2" // the host's loopback, with AllowHostLoopback
	DNS       = "10.0.2.3"
	MTU       = 65520
	Interface = "tap0"
)

// Net is what the sandbox's init needs to finish the network: it travels
// in the sandbox Spec.
type Net struct {
	Mode Mode `json:"mode"`
	// Configure: init sets address, MTU and route on Dev (slirp4netns).
	// WaitAddr: the driver configures Dev from outside (pasta); init
	// waits until it has its address.
	Configure bool   `json:"configure,omitempty"`
	WaitAddr  bool   `json:"wait_addr,omitempty"`
	Dev       string `json:"dev,omitempty"`
	IP        string `json:"ip,omitempty"`
	Netmask   int    `json:"netmask,omitempty"`
	Gateway   string `json:"gateway,omitempty"`
	MTU       int    `json:"mtu,omitempty"`
	// PortOpaque is the builtin port driver's child configuration;
	// empty without published ports.
	PortOpaque map[string]string `json:"port_opaque,omitempty"`
}

// Options configure the parent side.
type Options struct {
	Mode              Mode
	AllowHostLoopback bool
	Ports             []Port
	// StateDir holds the port driver's socket and pipe (a private,
	// short-lived directory).
	StateDir string
	Log      io.Writer
}

// Parent is the host side of a sandbox's network.
type Parent struct {
	cleanup func() error
	ports   port.ParentDriver
	ready   chan struct{}
	quit    chan struct{}
	errc    chan error
	specs   []Port
}

// Start connects the network namespace of process pid (the sandbox's
// init, in its user namespace) to the host with the chosen driver.
func Start(pid int, o Options) (*Parent, *Net, error) {
	_, ipnet, _ := net.ParseCIDR(Subnet)
	var n *Net
	var cleanup func() error
	switch o.Mode {
	case Pasta:
		var err error
		if cleanup, err = startPasta(pid, o); err != nil {
			return nil, nil, err
		}
		n = &Net{Mode: Pasta, WaitAddr: true, Dev: Interface, IP: ChildIP, Netmask: 24, Gateway: Gateway, MTU: MTU}
	case Slirp4netns:
		d, err := slirp4netns.NewParentDriver(o.Log, "slirp4netns", MTU, ipnet, Interface, !o.AllowHostLoopback, "", true, true, false)
		if err != nil {
			return nil, nil, fmt.Errorf("slirp4netns: %w", err)
		}
		msg, c, err := d.ConfigureNetwork(pid, o.StateDir, "")
		if err != nil {
			if c != nil {
				_ = c()
			}
			return nil, nil, fmt.Errorf("slirp4netns: %w", err)
		}
		cleanup = c
		n = &Net{Mode: Slirp4netns, Configure: true, Dev: msg.Dev, IP: msg.IP, Netmask: msg.Netmask, Gateway: msg.Gateway, MTU: msg.MTU}
	default:
		return nil, nil, fmt.Errorf("network mode %q has no driver", o.Mode)
	}
	var err error
	p := &Parent{cleanup: cleanup, specs: o.Ports}
	if len(o.Ports) > 0 {
		if p.ports, err = builtin.NewParentDriver(o.Log, o.StateDir); err != nil {
			p.Close()
			return nil, nil, err
		}
		n.PortOpaque = p.ports.OpaqueForChild()
		p.ready, p.quit, p.errc = make(chan struct{}, 1), make(chan struct{}), make(chan error, 1)
		go func() { p.errc <- p.ports.RunParentDriver(p.ready, p.quit, &port.ChildContext{IP: net.ParseIP(n.IP)}) }()
	}
	return p, n, nil
}

// Publish waits for the sandbox's side of the port driver and makes the
// host listen on every published port.
func (p *Parent) Publish(timeout time.Duration) error {
	if p.ports == nil {
		return nil
	}
	select {
	case <-p.ready:
	case err := <-p.errc:
		return fmt.Errorf("port driver: %w", err)
	case <-time.After(timeout):
		return errors.New("port driver: the sandbox side did not answer")
	}
	for _, pt := range p.specs {
		spec := port.Spec{Proto: pt.Proto, ParentIP: pt.HostIP, ParentPort: pt.HostPort, ChildPort: pt.Port}
		if _, err := p.ports.AddPort(context.Background(), spec); err != nil {
			return fmt.Errorf("publish %s: %w", pt, err)
		}
	}
	return nil
}

// Close stops the port driver and the network driver.
func (p *Parent) Close() error {
	if p == nil {
		return nil
	}
	if p.quit != nil {
		close(p.quit)
		p.quit = nil
	}
	if p.cleanup != nil {
		return p.cleanup()
	}
	return nil
}

// Port is one --publish.
type Port struct {
	Proto    string // tcp or udp
	HostIP   string
	HostPort int
	Port     int
}

func (p Port) String() string {
	return fmt.Sprintf("%s:%d:%d/%s", p.HostIP, p.HostPort, p.Port, p.Proto)
}

// ParsePort reads [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]. HOSTIP defaults to
// 127.0.0.1: a sandbox's service is not exposed to the network unless
// asked. IPv6 addresses go in brackets: [::1]:8080:80.
func ParsePort(s string) (Port, error) {
	bad := func(why string) (Port, error) {
		return Port{}, fmt.Errorf("--publish %q: %s; want [HOSTIP:]HOSTPORT:PORT[/tcp|/udp], e.g. 8080:80 or 0.0.0.0:8080:80/tcp", s, why)
	}
	p := Port{Proto: "tcp", HostIP: "127.0.0.1"}
	rest := s
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		p.Proto, rest = rest[i+1:], rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return bad("the protocol must be tcp or udp")
		}
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return bad("no host port")
	}
	ports, portStr := rest[:i], rest[i+1:]
	if j := strings.LastIndex(ports, ":"); j >= 0 {
		p.HostIP, ports = strings.Trim(ports[:j], "[]"), ports[j+1:]
		if net.ParseIP(p.HostIP) == nil {
			return bad(fmt.Sprintf("%q is not an IP address", p.HostIP))
		}
	}
	var err error
	if p.HostPort, err = strconv.Atoi(ports); err != nil || p.HostPort < 1 || p.HostPort > 65535 {
		return bad("the host port must be 1-65535")
	}
	if p.Port, err = strconv.Atoi(portStr); err != nil || p.Port < 1 || p.Port > 65535 {
		return bad("the port must be 1-65535")
	}
	return p, nil
}

// CheckPorts binds each host port for a moment, so that a taken or
// privileged port fails before the sandbox starts, naming the port.
func CheckPorts(ports []Port) error {
	for _, p := range ports {
		addr := net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort))
		var c io.Closer
		var err error
		if p.Proto == "udp" {
			c, err = net.ListenPacket("udp", addr)
		} else {
			c, err = net.Listen("tcp", addr)
		}
		if err != nil {
			switch {
			case errors.Is(err, syscall.EADDRINUSE):
				return fmt.Errorf("--publish %s: host port %d is taken on %s; pick another host port", p, p.HostPort, p.HostIP)
			case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
				start, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
				return fmt.Errorf("--publish %s: host port %d is privileged (below %s); use a port >= %s, or: sudo sysctl -w net.ipv4.ip_unprivileged_port_start=%d",
					p, p.HostPort, strings.TrimSpace(string(start)), strings.TrimSpace(string(start)), p.HostPort)
			case errors.Is(err, syscall.EADDRNOTAVAIL):
				return fmt.Errorf("--publish %s: %s is not an address of this host", p, p.HostIP)
			}
			return fmt.Errorf("--publish %s: %w", p, err)
		}
		c.Close()
	}
	return nil
}

// Files writes the sandbox's resolv.conf, hosts and hostname into dir and
// returns their paths by their /etc name. dns overrides the nameservers.
func Files(dir string, m Mode, hostname string, dns []string) (map[string]string, error) {
	if len(dns) == 0 {
		dns = []string{DNS}
		if m == None {
			dns = nil
		}
	}
	var resolv strings.Builder
	for _, d := range dns {
		fmt.Fprintf(&resolv, "nameserver %s\n", d)
	}
	self := "127.0.1.1"
	if m.UserMode() {
		self = ChildIP
	}
	files := map[string]string{
		"resolv.conf": resolv.String(),
		"hosts": fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n",
			self, hostname),
		"hostname": hostname + "\n",
	}
	out := map[string]string{}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, nil
}

// ValidDNS checks a --dns value.
func ValidDNS(s string) error {
	if net.ParseIP(s) == nil {
		return fmt.Errorf("--dns %q: want an IP address, e.g. 10.0.2.3 or 1.1.1.1", s)
	}
	return nil
}
