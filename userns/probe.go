package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrDisabled means the kernel refuses unprivileged user namespaces.
var ErrDisabled = errors.New("user namespaces are not available")

// sysctl is a knob that turns unprivileged user namespaces off.
type sysctl struct {
	name, file, off, fix string
}

// The knobs, most common first. unprivileged_userns_clone is Debian's and
// Ubuntu's patch; apparmor_restrict_unprivileged_userns is Ubuntu 23.10+.
var sysctls = []sysctl{
	{"user.max_user_namespaces", "user/max_user_namespaces", "0",
		"sudo sysctl -w user.max_user_namespaces=28633"},
	{"kernel.unprivileged_userns_clone", "kernel/unprivileged_userns_clone", "0",
		"sudo sysctl -w kernel.unprivileged_userns_clone=1"},
	{"kernel.apparmor_restrict_unprivileged_userns", "kernel/apparmor_restrict_unprivileged_userns", "1",
		"sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"},
}

// Explain turns the error of a clone(CLONE_NEWUSER) into one that names the
// sysctl which forbids it and the command that allows it. procSys is
// normally /proc/sys. Errors it cannot explain are returned unchanged.
func Explain(err error, procSys string) error {
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ENOSPC) &&
		!errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	for _, s := range sysctls {
		b, rerr := os.ReadFile(filepath.Join(procSys, s.file))
		if rerr != nil {
			continue
		}
		if strings.TrimSpace(string(b)) == s.off {
			return fmt.Errorf("%w: %s is %s; fix: %s", ErrDisabled, s.name, s.off, s.fix)
		}
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: the limit user.max_user_namespaces is reached (%v); raise it: sudo sysctl -w user.max_user_namespaces=28633", ErrDisabled, err)
	}
	return err
}
