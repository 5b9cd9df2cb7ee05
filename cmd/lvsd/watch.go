package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"time"

	"unsafe"

	"golang.org/x/sys/unix"
)

// watchFile reports changes of path's content (autoreload=yes): inotify
// on its directory, so that an editor's rename-over and scp's rewrite are
// both seen, then a content hash, so that a touch or a save of the same
// bytes is not a reload. No polling. Closed when ctx ends or inotify is
// unavailable (err says why).
func watchFile(ctx context.Context, path string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	const mask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_ATTRIB
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify")
	out := make(chan struct{}, 1)
	last := digest(path)
	events := make(chan struct{}, 1)
	go func() { // reader: one token per batch of events naming the file
		buf := make([]byte, 64*1024)
		for {
			n, err := f.Read(buf)
			if err != nil {
				close(events)
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafePointer(buf[off:]))
				name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if name == base {
					select {
					case events <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	go func() {
		defer close(out)
		defer f.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-events:
				if !ok {
					return
				}
				// let a writer finish (several events for one save)
				time.Sleep(100 * time.Millisecond)
				if d := digest(path); d != last && d != ([32]byte{}) {
					last = d
					select {
					case out <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return out, nil
}

func digest(path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}

// unsafePointer is the start of b, for reading a kernel struct in place.
func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
