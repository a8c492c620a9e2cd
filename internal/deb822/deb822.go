package deb822

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Scanner reads deb822 text a field at a time:
//
//	for s.Paragraph() {
//		for s.Field() {
//			use(s.Name(), s.Value())
//		}
//	}
//	if err := s.Err(); err != nil { ... }
type Scanner struct {
	// MaxLine bounds a line's length in bytes, line ending excluded; a
	// longer line stops the scan with an error wrapping ErrLineTooLong
	// after at most MaxLine bytes of it were held. 0 means DefaultMaxLine.
	// Set it before the first read.
	MaxLine int
	// MaxField bounds a field's value in bytes, its continuation lines
	// included (each of which MaxLine bounds alone); a longer field stops
	// the scan with an error wrapping ErrFieldTooLong after at most
	// MaxField+MaxLine bytes of it were held. 0 means DefaultMaxField.
	// Set it before the first read.
	MaxField int

	br *bufio.Reader

	line    int    // lines read so far
	pending []byte // a line read ahead and not yet used
	hasPend bool
	long    []byte // a line longer than br's buffer, assembled

	buf     []byte // the current field: name then value
	nameLen int
	at      int // the current field's first line

	inPara bool
	err    error
}

// DefaultMaxLine is a Scanner's line cap when MaxLine is 0: far above any
// line of a Debian control file, index or Release file (a few KiB); the
// Packages parser sets a tighter one (closure/deb's MaxIndexLineBytes).
const DefaultMaxLine = 16 << 20

// DefaultMaxField is a Scanner's field cap when MaxField is 0; the
// Packages parser sets a tighter one (closure/deb's MaxIndexFieldBytes).
const DefaultMaxField = 64 << 20

// ErrLineTooLong is wrapped by the error of a line longer than the cap.
var ErrLineTooLong = errors.New("line too long")

// ErrFieldTooLong is wrapped by the error of a field longer than the cap.
var ErrFieldTooLong = errors.New("field too long")

// NewScanner reads from r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{br: bufio.NewReaderSize(r, 1<<20)}
}

// Err is the first syntax or read error, or nil.
func (s *Scanner) Err() error { return s.err }

// Line is the number of lines read so far (the current field's last line,
// or the blank line that ended a paragraph).
func (s *Scanner) Line() int { return s.line }

// FieldLine is the line on which the current field starts.
func (s *Scanner) FieldLine() int { return s.at }

// Name is the current field's name, valid until the next call to Field or
// Paragraph.
func (s *Scanner) Name() []byte { return s.buf[:s.nameLen] }

// Value is the current field's value, valid until the next call to Field or
// Paragraph.
func (s *Scanner) Value() []byte { return s.buf[s.nameLen:] }

// Paragraph moves to the start of the next paragraph, skipping what is left
// of the current one, and reports whether there is one.
func (s *Scanner) Paragraph() bool {
	for s.inPara {
		s.Field()
	}
	if s.err != nil {
		return false
	}
	for {
		line, ok := s.readLine()
		if !ok {
			return false
		}
		if blank(line) || line[0] == '#' {
			continue
		}
		s.unread(line)
		s.inPara = true
		return true
	}
}

// Field reads the current paragraph's next field and reports whether there
// was one; it returns false at the paragraph's end and on error.
func (s *Scanner) Field() bool {
	if !s.inPara {
		return false
	}
	for {
		line, ok := s.readLine()
		if !ok || blank(line) {
			s.inPara = false
			return false
		}
		if line[0] == '#' {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return s.fail(fmt.Errorf("line %d is a continuation line with no field before it", s.line))
		}
		i := bytes.IndexByte(line, ':')
		var name []byte
		if i > 0 {
			name = bytes.TrimRight(line[:i], " \t")
		}
		if len(name) == 0 || bytes.IndexByte(name, ' ') >= 0 || bytes.IndexByte(name, '\t') >= 0 {
			return s.fail(fmt.Errorf("line %d %q is not a \"Field: value\" line", s.line, line))
		}
		s.at = s.line
		s.buf = append(s.buf[:0], name...)
		s.nameLen = len(s.buf)
		s.buf = append(s.buf, bytes.TrimSpace(line[i+1:])...)
		s.continuations()
		return s.err == nil || s.fail(s.err)
	}
}

// continuations appends the current field's continuation lines to buf and
// puts the first other line back.
func (s *Scanner) continuations() {
	limit := s.MaxField
	if limit <= 0 {
		limit = DefaultMaxField
	}
	for {
		if len(s.buf)-s.nameLen > limit {
			s.err = fmt.Errorf("field %s starting on line %d: %w: longer than %d bytes", s.buf[:s.nameLen], s.at, ErrFieldTooLong, limit)
			return
		}
		line, ok := s.readLine()
		if !ok {
			return
		}
		switch {
		case len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && !blank(line):
			cont := bytes.TrimRight(line[1:], " \t\r")
			if len(cont) == 1 && cont[0] == '.' {
				cont = cont[:0]
			}
			s.buf = append(s.buf, '\n')
			s.buf = append(s.buf, cont...)
		case len(line) > 0 && line[0] == '#':
		default:
			s.unread(line)
			return
		}
	}
}

func (s *Scanner) fail(err error) bool {
	s.err = err
	s.inPara = false
	return false
}

// readLine returns the next line without its line ending. The slice is
// valid until the next read.
func (s *Scanner) readLine() ([]byte, bool) {
	if s.hasPend {
		s.hasPend = false
		return s.pending, true
	}
	if s.err != nil {
		return nil, false
	}
	limit := s.MaxLine
	if limit <= 0 {
		limit = DefaultMaxLine
	}
	tooLong := func() ([]byte, bool) {
		s.err = fmt.Errorf("line %d: %w: longer than %d bytes", s.line+1, ErrLineTooLong, limit)
		return nil, false
	}
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.long = append(s.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(s.long) > limit+2 { // room for "\r\n"
				return tooLong()
			}
			line, err = s.br.ReadSlice('\n')
			s.long = append(s.long, line...)
		}
		line = s.long
	}
	if err != nil && err != io.EOF {
		s.err = fmt.Errorf("reading line %d: %w", s.line+1, err)
		return nil, false
	}
	if len(line) == 0 {
		return nil, false
	}
	s.line++
	if n := len(line); line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > limit {
		s.line--
		return tooLong()
	}
	return line, true
}

func (s *Scanner) unread(line []byte) {
	s.pending, s.hasPend = line, true
}

// blank reports whether line holds only blanks; a stray carriage return
// counts as one (a line's final CR is dropped as CRLF's), so that " \r "
// reads as it would after a round trip.
func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// Field is one field of a paragraph.
type Field struct {
	Name  string
	Value string
}

// Paragraph is a paragraph's fields in the order they appear.
type Paragraph struct {
	Fields []Field
	Line   int // the line of its first field
}

// Lookup returns the value of the first field called name (compared
// case-insensitively) and whether there is one.
func (p Paragraph) Lookup(name string) (string, bool) {
	for _, f := range p.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Get returns the value of the field called name, or "".
func (p Paragraph) Get(name string) string {
	v, _ := p.Lookup(name)
	return v
}

// Map returns the fields by name as written; a name that appears twice
// (compared case-insensitively) is an error.
func (p Paragraph) Map() (map[string]string, error) {
	m := make(map[string]string, len(p.Fields))
	for i, f := range p.Fields {
		for _, g := range p.Fields[:i] {
			if strings.EqualFold(f.Name, g.Name) {
				return nil, fmt.Errorf("field %s appears twice", f.Name)
			}
		}
		m[f.Name] = f.Value
	}
	return m, nil
}

// Read reads every paragraph of r.
func Read(r io.Reader) ([]Paragraph, error) {
	s := NewScanner(r)
	var out []Paragraph
	for s.Paragraph() {
		out = append(out, s.paragraph())
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ErrEmpty is returned by ReadFirst when the text holds no field.
var ErrEmpty = errors.New("no fields")

// ReadFirst reads the first paragraph of r and ignores the rest.
func ReadFirst(r io.Reader) (Paragraph, error) {
	s := NewScanner(r)
	if !s.Paragraph() {
		if err := s.Err(); err != nil {
			return Paragraph{}, err
		}
		return Paragraph{}, ErrEmpty
	}
	p := s.paragraph()
	if err := s.Err(); err != nil {
		return Paragraph{}, err
	}
	return p, nil
}

func (s *Scanner) paragraph() Paragraph {
	var p Paragraph
	for s.Field() {
		if p.Fields == nil {
			p.Line = s.FieldLine()
		}
		p.Fields = append(p.Fields, Field{Name: string(s.Name()), Value: string(s.Value())})
	}
	return p
}
