package sandbox

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func render(ops []Op) string {
	var b strings.Builder
	for _, o := range ops {
		b.WriteString(o.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestTableHostView(t *testing.T) {
	host := fstest.MapFS{
		"usr/bin/sh": {},
		"bin":        {Data: []byte("usr/bin"), Mode: fs.ModeSymlink},
		"lib":        {Data: []byte("usr/lib"), Mode: fs.ModeSymlink},
		"etc/passwd": {},
		"home/u/key": {},
		"srv/x":      {},
	}
	ops, err := Table(Layout{
		Root: host, Home: "/home/u", Project: "/work/p",
		Mounts: []UserMount{
			{Kind: Tmpfs, Target: "/scratch/"},
			{Kind: Bind, Source: "/srv", Target: "/scratch/srv", ReadOnly: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := render(ops)
	want := `bind /usr on /usr (ro)
symlink usr/bin on /bin
symlink usr/lib on /lib
bind /etc on /etc (ro)
proc /proc
sysfs /sys (ro)
mask /proc/acpi
mask /proc/asound
mask /proc/interrupts
mask /proc/kcore
mask /proc/keys
mask /proc/latency_stats
mask /proc/sched_debug
mask /proc/scsi
mask /proc/timer_list
mask /proc/timer_stats
mask /sys/devices/virtual/powercap
mask /sys/firmware
protect /proc/bus (ro)
protect /proc/fs (ro)
protect /proc/irq (ro)
protect /proc/sys (ro)
protect /proc/sysrq-trigger (ro)
tmpfs /dev
`
	if !strings.HasPrefix(got, want) {
		t.Fatalf("table starts:\n%s\nwant:\n%s", got, want)
	}
	tail := `tmpfs /tmp
tmpfs /var/tmp
tmpfs /run
tmpfs /home/u
bind /work/p on /work/p
tmpfs /scratch
bind /srv on /scratch/srv (ro)
`
	if !strings.HasSuffix(got, tail) {
		t.Fatalf("table ends:\n%s\nwant:\n%s", got, tail)
	}
	// Nothing of the host outside HostDirs, and never the home.
	if strings.Contains(got, "/home/u on") || strings.Contains(got, "/srv on /srv") {
		t.Fatalf("host paths leaked into the table:\n%s", got)
	}
	for _, o := range ops {
		if o.Target == "/home/u" && (!o.Owned || o.Mode != "0700") {
			t.Fatalf("home is %+v, want a private tmpfs owned by the user", o)
		}
		if o.Kind == Bind && strings.HasPrefix(o.Target, "/dev/") && !o.Dev {
			t.Fatalf("%v would be nodev: device unusable", o)
		}
	}
}

func TestTableRootfs(t *testing.T) {
	img := fstest.MapFS{
		"bin/sh":  {},
		"etc/x":   {},
		"proc":    {Mode: fs.ModeDir},
		"tmp":     {Mode: fs.ModeDir},
		"home/me": {Mode: fs.ModeDir},
		"init":    {},
		"lib64":   {Data: []byte("lib"), Mode: fs.ModeSymlink},
	}
	layer := func(key, lower, target string) (string, string, string, error) {
		return "/state/upper/" + key, "/state/work/" + key, "/state/stage/" + key, nil
	}
	if _, err := Table(Layout{Root: img, Rootfs: "/img", Home: "/home/me"}); err == nil {
		t.Fatal("an image without a state directory was accepted")
	}
	ops, err := Table(Layout{Root: img, Rootfs: "/img", Home: "/home/me", Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	// The image is the lower layer of the root overlay; nothing of the
	// host is shared.
	if o := ops[0]; o.Kind != Overlay || o.Target != "/" || o.Source != "/img" || o.Upper != "/state/upper/root" || o.Squash {
		t.Fatalf("first op %+v, want the root overlay", o)
	}
	got := render(ops)
	for _, bad := range []string{"/usr", "bind /img"} {
		if strings.Contains(got, bad) {
			t.Errorf("%s must not be shared:\n%s", bad, got)
		}
	}
	for _, o := range ops {
		if o.Target == "/var/tmp" && !o.Optional {
			t.Error("/var/tmp must be optional in an image, which may lack /var")
		}
	}
}

func TestTableCow(t *testing.T) {
	host := fstest.MapFS{"usr/bin/sh": {}, "bin": {Data: []byte("usr/bin"), Mode: fs.ModeSymlink}, "etc/x": {}}
	layer := func(key, lower, target string) (string, string, string, error) {
		return "/s/upper/" + key, "/s/work/" + key, "/s/stage/" + key, nil
	}
	ops, err := Table(Layout{Root: host, Home: "/h", Project: "/p", RootCow: true, ProjectCow: true, Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range ops {
		if o.Kind == Overlay {
			got = append(got, fmt.Sprintf("%s<-%s %s squash=%v ro-fallback=%v", o.Target, o.Source, o.Upper, o.Squash, o.FallbackRO))
		}
	}
	want := "/usr<-/usr /s/upper/usr squash=true ro-fallback=true\n/etc<-/etc /s/upper/etc squash=true ro-fallback=true\n/p<-/p /s/upper/project squash=false ro-fallback=false"
	if strings.Join(got, "\n") != want {
		t.Fatalf("overlays:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	if render(ops)[:len("overlay /usr")] != "overlay /usr" {
		t.Fatal("the system overlays come first")
	}
}

func TestTableRejectsRelativeTarget(t *testing.T) {
	_, err := Table(Layout{Root: fstest.MapFS{}, Mounts: []UserMount{{Kind: Tmpfs, Target: "rel"}}})
	if err == nil {
		t.Fatal("relative target accepted")
	}
}

func TestBuildEnv(t *testing.T) {
	caller := []string{"PATH=/bin", "GITHUB_TOKEN=s3cret", "LANG=C", "LC_ALL=C", "TERM=xterm", "HOME=/root", "X=1", "=bad", "NOEQUALS"}
	env, err := BuildEnv(caller, EnvOptions{
		Pass:   []string{"PATH", "TERM", "LANG", "LC_*", "X", "MISSING"},
		Set:    []string{"A=b=c"},
		Inside: map[string]string{"HOME": "/home/u", "HOSTNAME": "burrow"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "A=b=c HOME=/home/u HOSTNAME=burrow LANG=C LC_ALL=C PATH=/bin TERM=xterm X=1"
	if got := strings.Join(env, " "); got != want {
		t.Fatalf("env = %s\nwant  %s", got, want)
	}
	all, _ := BuildEnv(caller, EnvOptions{All: true})
	if !strings.Contains(strings.Join(all, " "), "GITHUB_TOKEN=s3cret") {
		t.Fatal("--env-all lost a variable")
	}
	def, _ := BuildEnv(nil, EnvOptions{})
	if strings.Join(def, " ") != "PATH="+DefaultPath {
		t.Fatalf("empty caller: %v", def)
	}
	if _, err := BuildEnv(nil, EnvOptions{Set: []string{"=x"}}); err == nil {
		t.Fatal("--env =x accepted")
	}
}

func TestCaps(t *testing.T) {
	for _, c := range []struct {
		add, drop []string
		want      string
	}{
		{nil, nil, "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_SETFCAP"},
		{[]string{"net_raw"}, []string{"CAP_CHOWN", "kill"}, "CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_CHROOT CAP_SETFCAP"},
		{[]string{"SYS_PTRACE"}, []string{"all"}, "CAP_SYS_PTRACE"},
		{nil, []string{"ALL"}, ""},
		{[]string{"chown"}, []string{"chown"}, "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_SETFCAP"},
	} {
		s, err := Caps(c.add, c.drop)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(s.Names(), " "); got != c.want {
			t.Errorf("add %v drop %v: %s, want %s", c.add, c.drop, got, c.want)
		}
	}
	all, _ := Caps([]string{"all"}, nil)
	if len(all.Names()) != 41 {
		t.Errorf("all: %d capabilities", len(all.Names()))
	}
	if _, err := Caps([]string{"SYS_NOPE"}, nil); err == nil || !strings.Contains(err.Error(), `--cap-add: capability "SYS_NOPE": unknown`) {
		t.Errorf("unknown capability: %v", err)
	}
}
