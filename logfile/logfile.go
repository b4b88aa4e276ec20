package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// MaxLine is the longest record text: a longer line is split into
// partial records.
const MaxLine = 16 << 10

// Writer appends records to a log file, rotating it at Max bytes.
type Writer struct {
	path string
	max  int64
	now  func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Create opens path for appending (creating it, mode 0600).
func Create(path string, max int64) (*Writer, error) {
	w := &Writer{path: path, max: max, now: time.Now}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("log %s: %w", w.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// record writes one record; text has no newline.
func (w *Writer) record(stream string, partial bool, text []byte) error {
	tag := "F"
	if partial {
		tag = "P"
	}
	line := fmt.Sprintf("%s %s %s %s\n", w.now().UTC().Format(time.RFC3339Nano), stream, tag, text)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.max > 0 && w.size > 0 && w.size+int64(len(line)) > w.max {
		w.f.Close()
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return err
		}
		if err := w.open(); err != nil {
			return err
		}
	}
	n, err := w.f.WriteString(line)
	w.size += int64(n)
	return err
}

// Copy records what r yields as stream ("stdout" or "stderr") until EOF:
// each line a full record, a line longer than MaxLine or an unterminated
// last one as partial records.
func (w *Writer) Copy(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			full := line[len(line)-1] == '\n'
			if werr := w.record(stream, !full, bytes.TrimSuffix(line, []byte("\n"))); werr != nil {
				return werr
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Line writes one full record.
func (w *Writer) Line(stream, text string) error {
	return w.record(stream, false, []byte(text))
}

// Record is one line of a log.
type Record struct {
	Time    time.Time
	Stream  string
	Partial bool
	Text    string
}

// Parse reads one record line (without its newline).
func Parse(line string) (Record, error) {
	f := strings.SplitN(line, " ", 4)
	if len(f) < 3 {
		return Record{}, fmt.Errorf("log record %q: want TIME STREAM F|P TEXT", line)
	}
	t, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		return Record{}, fmt.Errorf("log record %q: %v", line, err)
	}
	r := Record{Time: t, Stream: f[1], Partial: f[2] == "P"}
	if len(f) == 4 {
		r.Text = f[3]
	}
	return r, nil
}

// ReadOptions select what Read yields.
type ReadOptions struct {
	// Tail > 0 yields only the last Tail lines present at the start.
	Tail int
	// Since skips records before it.
	Since time.Time
	// Follow waits for more records until Done returns true and the
	// file has nothing more; Poll is how often it looks (100 ms).
	Follow bool
	Done   func() bool
	Poll   time.Duration
}

// Read calls yield for each record of the log at path (and of its
// rotated predecessor path.1), oldest first. A missing log is empty.
func Read(path string, o ReadOptions, yield func(Record) error) error {
	old, err := os.ReadFile(path + ".1")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	lines := splitLines(old)
	// Following goes on from where the current file's complete records
	// end, in the same open file.
	f, err := os.Open(path)
	var offset int64
	switch {
	case err == nil:
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		offset = int64(bytes.LastIndexByte(b, '\n') + 1)
		lines = append(lines, splitLines(b)...)
	case errors.Is(err, os.ErrNotExist):
		f = nil
	default:
		return err
	}
	if o.Tail > 0 && len(lines) > o.Tail {
		lines = lines[len(lines)-o.Tail:]
	}
	emit := func(l string) error {
		r, err := Parse(l)
		if err != nil {
			return err
		}
		if !o.Since.IsZero() && r.Time.Before(o.Since) {
			return nil
		}
		return yield(r)
	}
	for _, l := range lines {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !o.Follow {
		return nil
	}
	return follow(path, f, offset, o, emit)
}

// follow polls the log from offset on, switching to the new file after a
// rotation, until o.Done and nothing is left.
func follow(path string, f *os.File, offset int64, o ReadOptions, emit func(string) error) error {
	poll := o.Poll
	if poll == 0 {
		poll = 100 * time.Millisecond
	}
	var pending []byte
	for {
		done := o.Done != nil && o.Done() // read once more after it ends
		if f == nil {
			var err error
			if f, err = os.Open(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			offset, pending = 0, nil
		}
		if f != nil {
			b := make([]byte, 64<<10)
			for {
				n, err := f.ReadAt(b, offset)
				offset += int64(n)
				pending = append(pending, b[:n]...)
				if err != nil || n == 0 {
					break
				}
			}
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				if err := emit(string(pending[:i])); err != nil {
					return err
				}
				pending = pending[i+1:]
			}
			// Rotated: the path names a new file; finish this one
			// (done above) and go on with that.
			if fi, err := os.Stat(path); err == nil {
				if cur, err := f.Stat(); err == nil && !os.SameFile(fi, cur) {
					f.Close()
					f = nil
					continue
				}
			}
		}
		if done {
			return nil
		}
		time.Sleep(poll)
	}
}

func splitLines(b []byte) []string {
	s := string(b)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	} else {
		return nil
	}
	return strings.Split(s, "\n")
}
