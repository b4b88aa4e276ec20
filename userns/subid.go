package userns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ErrNoSubIDs means the user has no usable range in /etc/subuid or /etc/subgid.
var ErrNoSubIDs = errors.New("no subordinate ID range")

// Range is a block of host IDs delegated to a user: subuid(5)'s
// "name:start:count".
type Range struct {
	Start, Count uint32
}

// Mapping is one line of /proc/PID/uid_map: Count IDs starting at Inside
// map to the host IDs starting at Outside.
type Mapping struct {
	Inside, Outside, Count uint32
}

func (m Mapping) String() string { return fmt.Sprintf("%d %d %d", m.Inside, m.Outside, m.Count) }

// ParseSubIDs returns the ranges in r that belong to the user with the
// given name or numeric id, in file order. shadow's newuidmap accepts an
// entry by either spelling, so both are matched. Malformed lines are
// reported with their line number: newuidmap would reject them as well.
func ParseSubIDs(r io.Reader, file, name string, id uint32) ([]Range, error) {
	var out []Range
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want NAME:START:COUNT, got %q", file, n, line)
		}
		if f[0] != name && f[0] != strconv.FormatUint(uint64(id), 10) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count-1 > math.MaxUint32-1 {
			return nil, fmt.Errorf("%s:%d: bad range %q", file, n, line)
		}
		out = append(out, Range{Start: uint32(start), Count: uint32(count)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return out, nil
}

// ReadSubIDs reads the ranges of a user from a subuid/subgid file. A missing
// file is the same as a file without entries.
func ReadSubIDs(file, name string, id uint32) ([]Range, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseSubIDs(f, file, name, id)
}

// BuildMap maps the caller's own id to 0 inside and then the subordinate
// ranges, one after the other, to 1, 2, ... inside. That is podman's rootless
// layout, so files written by a sandbox have the same owners on the host as
// podman would give them. The total is capped so inside IDs stay below
// 2^32-1, which the kernel reserves as the invalid ID.
func BuildMap(id uint32, ranges []Range) []Mapping {
	maps := []Mapping{{Inside: 0, Outside: id, Count: 1}}
	next := uint64(1)
	for _, r := range ranges {
		room := uint64(math.MaxUint32) - next
		if room == 0 {
			break
		}
		c := uint64(r.Count)
		if c > room {
			c = room
		}
		maps = append(maps, Mapping{Inside: uint32(next), Outside: r.Start, Count: uint32(c)})
		next += c
	}
	return maps
}

// HelperArgs is the argument list of newuidmap/newgidmap (without the program
// name): the target pid followed by a triple per mapping.
func HelperArgs(pid int, maps []Mapping) []string {
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args,
			strconv.FormatUint(uint64(m.Inside), 10),
			strconv.FormatUint(uint64(m.Outside), 10),
			strconv.FormatUint(uint64(m.Count), 10))
	}
	return args
}

// ParseMap reads the text of a /proc/PID/uid_map or gid_map file; lines
// that are not three numbers are skipped.
func ParseMap(text string) []Mapping {
	var maps []Mapping
	for _, line := range strings.Split(text, "\n") {
		var m Mapping
		if n, _ := fmt.Sscan(line, &m.Inside, &m.Outside, &m.Count); n == 3 {
			maps = append(maps, m)
		}
	}
	return maps
}

// Contains reports whether the inside id is mapped by maps.
func Contains(maps []Mapping, id uint32) bool {
	for _, m := range maps {
		if id >= m.Inside && uint64(id) < uint64(m.Inside)+uint64(m.Count) {
			return true
		}
	}
	return false
}

// Size is the number of inside IDs maps covers.
func Size(maps []Mapping) uint64 {
	var n uint64
	for _, m := range maps {
		n += uint64(m.Count)
	}
	return n
}
