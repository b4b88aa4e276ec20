package slirp

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParsePort(t *testing.T) {
	for in, want := range map[string]string{
		"8080:80":           "127.0.0.1:8080:80/tcp",
		"0.0.0.0:8080:80":   "0.0.0.0:8080:80/tcp",
		"8053:53/udp":       "127.0.0.1:8053:53/udp",
		"[::1]:8080:80/tcp": "::1:8080:80/tcp",
		"10.1.2.3:1:65535":  "10.1.2.3:1:65535/tcp",
	} {
		p, err := ParsePort(in)
		if err != nil || p.String() != want {
			t.Errorf("%s: %v %v, want %s", in, p, err, want)
		}
	}
	for in, why := range map[string]string{
		"8080":          "no host port",
		"x:80":          "the host port must be 1-65535",
		"8080:0":        "the port must be 1-65535",
		"1.2.3:8080:80": "is not an IP address",
		"80:80/sctp":    "the protocol must be tcp or udp",
		"70000:80":      "the host port must be 1-65535",
	} {
		if _, err := ParsePort(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: err = %v, want %q", in, err, why)
		}
	}
}

func TestCheckPorts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	err = CheckPorts([]Port{{Proto: "tcp", HostIP: "127.0.0.1", HostPort: taken, Port: 80}})
	if err == nil || !strings.Contains(err.Error(), "host port "+strconv.Itoa(taken)+" is taken on 127.0.0.1") {
		t.Fatalf("taken port: %v", err)
	}
	if err := CheckPorts([]Port{{Proto: "udp", HostIP: "127.0.0.1", HostPort: taken, Port: 80}}); err != nil {
		t.Fatalf("the same number over UDP is free: %v", err)
	}
	err = CheckPorts([]Port{{Proto: "tcp", HostIP: "192.0.2.1", HostPort: 40000, Port: 80}})
	if err == nil || !strings.Contains(err.Error(), "is not an address of this host") {
		t.Fatalf("foreign address: %v", err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	files, err := Files(dir, Pasta, "box", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(files["resolv.conf"])
	if string(b) != "nameserver 10.0.2.3\n" {
		t.Fatalf("resolv.conf = %q", b)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "hosts"))
	if !strings.Contains(string(b), "10.0.2.100\tbox\n") || !strings.HasPrefix(string(b), "127.0.0.1\tlocalhost\n") {
		t.Fatalf("hosts = %q", b)
	}
	files, _ = Files(dir, Slirp4netns, "box", []string{"1.1.1.1", "9.9.9.9"})
	b, _ = os.ReadFile(files["resolv.conf"])
	if string(b) != "nameserver 1.1.1.1\nnameserver 9.9.9.9\n" {
		t.Fatalf("--dns resolv.conf = %q", b)
	}
	if _, err := ParseMode("bridge"); err == nil {
		t.Fatal("ParseMode(bridge)")
	}
	if err := ValidDNS("1.2.3"); err == nil {
		t.Fatal("ValidDNS(1.2.3)")
	}
}
