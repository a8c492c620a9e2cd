package debfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// arReader reads the members of an ar archive (the .deb container) as a
// stream.
type arReader struct {
	r       io.Reader
	remain  int64 // unread bytes of the current member
	padding bool  // the current member is followed by one pad byte
}

// arMember is one ar member's header.
type arMember struct {
	Name string
	Size int64
}

const arMagic = "!<arch>\n"

func newArReader(r io.Reader) (*arReader, error) {
	var magic [len(arMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("reading the ar header: %w (is this a .deb file?)", err)
	}
	if string(magic[:]) != arMagic {
		return nil, errors.New("not an ar archive: a .deb starts with \"!<arch>\\n\" (is this a .deb file?)")
	}
	return &arReader{r: r}, nil
}

// Next skips what is left of the current member and returns the next
// member's header and a reader of exactly its bytes; io.EOF after the last.
func (a *arReader) Next() (*arMember, io.Reader, error) {
	skip := a.remain
	if a.padding {
		skip++
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, a.r, skip); err != nil {
			return nil, nil, fmt.Errorf("reading the ar archive: %w", truncated(err))
		}
	}
	a.remain, a.padding = 0, false
	var h [60]byte
	n, err := io.ReadFull(a.r, h[:])
	if err == io.EOF && n == 0 {
		return nil, nil, io.EOF
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading an ar member header: %w", truncated(err))
	}
	if h[58] != '`' || h[59] != '\n' {
		return nil, nil, errors.New("bad ar member header (the .deb is corrupt)")
	}
	name := strings.TrimRight(string(h[0:16]), " ")
	name = strings.TrimSuffix(name, "/") // GNU ar style
	sizeField := string(bytes.TrimRight(h[48:58], " "))
	size, err := strconv.ParseInt(sizeField, 10, 64)
	if err != nil || size < 0 {
		return nil, nil, fmt.Errorf("ar member %q has a bad size %q (the .deb is corrupt)", name, sizeField)
	}
	a.remain = size
	a.padding = size%2 == 1
	return &arMember{Name: name, Size: size}, &memberReader{a: a}, nil
}

type memberReader struct{ a *arReader }

func (m *memberReader) Read(p []byte) (int, error) {
	if m.a.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > m.a.remain {
		p = p[:m.a.remain]
	}
	n, err := m.a.r.Read(p)
	m.a.remain -= int64(n)
	if err == io.EOF && m.a.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func truncated(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
