package vm

import (
	"fmt"
	"io"
	"os"
	"path"
)

// cpioWriter writes a newc ("070701") archive, the initramfs format.
type cpioWriter struct {
	w    io.Writer
	ino  int
	dirs map[string]bool
}

func newCpio(w io.Writer) *cpioWriter { return &cpioWriter{w: w, ino: 1, dirs: map[string]bool{}} }

func (c *cpioWriter) header(name string, mode uint32, size int) error {
	c.ino++
	_, err := fmt.Fprintf(c.w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(c.w, name+"\x00"); err != nil {
		return err
	}
	return c.pad(110 + len(name) + 1)
}

func (c *cpioWriter) pad(n int) error {
	if r := n % 4; r != 0 {
		_, err := c.w.Write(make([]byte, 4-r))
		return err
	}
	return nil
}

// mkdirAll adds every missing parent directory of name.
func (c *cpioWriter) mkdirAll(dir string) error {
	if dir == "." || dir == "/" || dir == "" || c.dirs[dir] {
		return nil
	}
	if err := c.mkdirAll(path.Dir(dir)); err != nil {
		return err
	}
	c.dirs[dir] = true
	return c.header(dir, 0o040755, 0)
}

func (c *cpioWriter) file(name string, mode uint32, data []byte) error {
	if err := c.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	if err := c.header(name, 0o100000|mode, len(data)); err != nil {
		return err
	}
	if _, err := c.w.Write(data); err != nil {
		return err
	}
	return c.pad(len(data))
}

func (c *cpioWriter) symlink(name, target string) error {
	if err := c.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	if err := c.header(name, 0o120777, len(target)); err != nil {
		return err
	}
	if _, err := io.WriteString(c.w, target); err != nil {
		return err
	}
	return c.pad(len(target))
}

func (c *cpioWriter) hostFile(name, src string, mode uint32) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return c.file(name, mode, data)
}

func (c *cpioWriter) close() error { return c.header("TRAILER!!!", 0, 0) }
