package sandbox

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/burrow-sandbox/burrow/image"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// runImport unpacks an image as root of the user namespace, reporting
// progress to the parent, and leaves nothing behind on failure.
func runImport(im *Import) *InitError {
	fail := func(format string, args ...any) *InitError {
		_ = RemoveTree(im.Dest)
		return setupErr(format, args...)
	}
	fi, err := os.Stat(im.Source)
	if err != nil {
		return setupErr("import %s: %v", im.Source, err)
	}
	if err := os.Mkdir(im.Dest, 0o755); err != nil {
		return setupErr("import: %v", err)
	}
	var src io.Reader
	var total int64
	var counter *countingReader
	if fi.IsDir() {
		pr, pw := io.Pipe()
		go image.TarDir(im.Source, pw)
		src = pr
	} else {
		f, err := os.Open(im.Source)
		if err != nil {
			return fail("import %s: %v", im.Source, err)
		}
		defer f.Close()
		total = fi.Size()
		counter = &countingReader{r: f}
		r, done, err := image.Decompress(counter)
		if err != nil {
			return fail("import %s: %v", im.Source, err)
		}
		defer done()
		src = r
	}
	stop := make(chan struct{})
	if counter != nil {
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					_ = send(fdSock, message{Type: msgProgress, Text: fmt.Sprintf("%d/%d", counter.n.Load(), total)})
				}
			}
		}()
	}
	st, err := image.Unpack(src, im.Dest, im.MaxID)
	close(stop)
	if err != nil {
		return fail("import %s: %v", im.Source, err)
	}
	if counter != nil {
		_ = send(fdSock, message{Type: msgProgress, Text: fmt.Sprintf("%d/%d", total, total)})
	}
	_ = send(fdSock, message{Type: msgNotice, Text: fmt.Sprintf("imported %d files, %d directories, %d links, %d symlinks (%d bytes); skipped %d device nodes, %d unsafe entries; %d owners outside the mapped IDs became 0",
		st.Files, st.Dirs, st.Links, st.Symlinks, st.Bytes, st.Devices, st.Unsafe, st.Unowned)})
	return nil
}
