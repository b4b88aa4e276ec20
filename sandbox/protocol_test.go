package sandbox

import (
	"io"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestProtocolRoundTrip(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	spec := &Spec{Args: []string{"sh", "-c", "x"}, Mounts: []Op{{Kind: Bind, Source: "/a,b:c", Target: "/t", ReadOnly: true}}, TTY: true, Rows: 3}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Two messages back to back stay two packets: no framing needed.
	if err := send(pair[1], message{Type: msgSpec, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if err := send(pair[1], message{Type: msgPty}, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	if err := send(pair[1], message{Type: msgError, Error: &InitError{Msg: "boom", Code: 127}}); err != nil {
		t.Fatal(err)
	}
	unix.Close(pair[1])

	m, err := expect(pair[0], msgSpec)
	if err != nil || !reflect.DeepEqual(m.Spec, spec) {
		t.Fatalf("spec: %+v %v", m.Spec, err)
	}
	m, fds, err := recv(pair[0])
	if err != nil || m.Type != msgPty || len(fds) != 1 {
		t.Fatalf("pty: %+v %v %v", m, fds, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
		t.Fatalf("passed fd is not /dev/null: %v", err)
	}
	unix.Close(fds[0])
	if _, err := expect(pair[0], msgStarted); err == nil {
		t.Fatal("expect accepted the wrong type")
	}
	if _, _, err := recv(pair[0]); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
}

func TestExitCode(t *testing.T) {
	// A wait status holds the exit code in bits 8-15, a signal in 0-6.
	if got := ExitCode(7 << 8); got != 7 {
		t.Fatalf("exit 7 -> %d", got)
	}
	if got := ExitCode(15); got != 143 {
		t.Fatalf("SIGTERM -> %d", got)
	}
}
