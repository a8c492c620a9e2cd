package deb822

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	text := "# a comment\n\n" +
		"Package: a\r\nDepends: b,\n c,\n\td\nDescription: short\n long\n .\n more  \n\n" +
		" \t\n" +
		"Package:b\n# inside\nVersion : 2\n"
	ps, err := Read(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("%d paragraphs: %+v", len(ps), ps)
	}
	a := ps[0]
	if a.Line != 3 || a.Get("package") != "a" || a.Get("Depends") != "b,\nc,\nd" || a.Get("DESCRIPTION") != "short\nlong\n\nmore" {
		t.Errorf("first paragraph %+v", a)
	}
	if _, ok := a.Lookup("Version"); ok {
		t.Error("Version found in the first paragraph")
	}
	b := ps[1]
	if b.Get("Package") != "b" || b.Get("Version") != "2" || b.Fields[1].Name != "Version" {
		t.Errorf("second paragraph %+v", b)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{" cont\n", "line 1 is a continuation line"},
		{"A: 1\nno colon\n", `line 2 "no colon" is not a "Field: value" line`},
		{": x\n", "is not a"},
		{"two words: x\n", "is not a"},
	} {
		_, err := Read(strings.NewReader(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%q) = %v, want %q", c.text, err, c.want)
		}
	}
	if _, err := ReadFirst(strings.NewReader("\n# only\n\n")); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty text: %v", err)
	}
	p, err := ReadFirst(strings.NewReader("A: 1\na: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Map(); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate field: %v", err)
	}
}

// ReadFirst stops at the first paragraph: what follows is not parsed.
func TestReadFirstIgnoresTheRest(t *testing.T) {
	p, err := ReadFirst(strings.NewReader("A: 1\n\n not valid\n"))
	if err != nil || p.Get("A") != "1" || len(p.Fields) != 1 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestLongLine(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	ps, err := Read(strings.NewReader("A: " + long + "\n cont\nB: 1\n"))
	if err != nil || len(ps) != 1 || ps[0].Get("A") != long+"\ncont" || ps[0].Get("B") != "1" {
		t.Fatalf("long line: %v", err)
	}
}

// encode writes paragraphs back as deb822 text.
func encode(ps []Paragraph) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, f := range p.Fields {
			lines := strings.Split(f.Value, "\n")
			b.WriteString(f.Name + ": " + lines[0] + "\n")
			for _, l := range lines[1:] {
				if l == "" {
					l = "."
				}
				b.WriteString(" " + l + "\n")
			}
		}
	}
	return b.String()
}

// FuzzRead checks that the parser never panics and that what it accepts
// survives a round trip through encode.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"Package: a\nVersion: 1\nDepends: b,\n c\n\nPackage: b\n",
		"Types: deb\nURIs: http://example.invalid/debian\nSuites: bookworm\n# c\nComponents: main\n",
		"SHA256:\n 0123 12 main/binary-amd64/Packages\n",
		"Description: x\n .\n y\n",
		" bad\n", "A:\r\n\r\n", "#\n\t\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ps, err := Read(strings.NewReader(text))
		if err != nil {
			return
		}
		again, err := Read(strings.NewReader(encode(ps)))
		if err != nil {
			t.Fatalf("re-reading %q: %v", encode(ps), err)
		}
		if len(again) != len(ps) {
			t.Fatalf("%d paragraphs, then %d", len(ps), len(again))
		}
		for i := range ps {
			if len(ps[i].Fields) != len(again[i].Fields) {
				t.Fatalf("paragraph %d: %+v then %+v", i, ps[i].Fields, again[i].Fields)
			}
			for j, fl := range ps[i].Fields {
				if again[i].Fields[j] != fl {
					t.Fatalf("field %q then %q", fl, again[i].Fields[j])
				}
			}
		}
	})
}

// endless is a reader of endless 'a' bytes that counts what it gave.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestMaxLine(t *testing.T) {
	// An endless line stops at the cap, having read little past it.
	src := &endless{}
	s := NewScanner(io.MultiReader(strings.NewReader("Package: a\nDescription: "), src))
	s.MaxLine = 4 << 20
	for s.Paragraph() {
		for s.Field() {
		}
	}
	if err := s.Err(); !errors.Is(err, ErrLineTooLong) || !strings.Contains(err.Error(), "line 2: line too long: longer than 4194304 bytes") {
		t.Fatalf("error %v, want ErrLineTooLong on line 2", err)
	}
	if src.n > 6<<20 {
		t.Errorf("read %d bytes of an endless line with a 4 MiB cap", src.n)
	}
	// The default cap, and a line just at the cap passes.
	for _, c := range []struct {
		max, n int
		ok     bool
	}{{0, DefaultMaxLine, true}, {0, DefaultMaxLine + 1, false}, {100, 100, true}, {100, 101, false}} {
		line := "A: " + strings.Repeat("x", c.n-3)
		s := NewScanner(strings.NewReader("B: 1\n" + line + "\r\n"))
		s.MaxLine = c.max
		for s.Paragraph() {
			for s.Field() {
			}
		}
		err := s.Err()
		if c.ok != (err == nil) || !c.ok && !errors.Is(err, ErrLineTooLong) {
			t.Errorf("MaxLine %d, a %d-byte line: %v", c.max, c.n, err)
		}
	}
}

// TestMaxField: a field of many short continuation lines, each under
// MaxLine, stops at MaxField having held little past it; one just at the
// cap passes.
func TestMaxField(t *testing.T) {
	line := " " + strings.Repeat("y", 1023) + "\n"
	src := &endlessLines{line: line}
	s := NewScanner(io.MultiReader(strings.NewReader("Package: a\nDescription: x\n"), src))
	s.MaxLine, s.MaxField = 4<<10, 1<<20
	for s.Paragraph() {
		for s.Field() {
		}
	}
	if err := s.Err(); !errors.Is(err, ErrFieldTooLong) || !strings.Contains(err.Error(), "field Description starting on line 2: field too long: longer than 1048576 bytes") {
		t.Fatalf("error %v, want ErrFieldTooLong for Description", err)
	}
	if src.n > 3<<20 {
		t.Errorf("read %d bytes of an endless field with a 1 MiB cap", src.n)
	}
	for _, c := range []struct {
		max, lines int
		ok         bool
	}{{1024, 1, true}, {1024, 2, false}, {0, DefaultMaxField / 1024, true}, {0, DefaultMaxField/1024 + 1, false}} {
		// "x" and the lines' "\n" joins: 1 + lines*1024 bytes.
		s := NewScanner(strings.NewReader("A: \n" + strings.Repeat(line, c.lines) + "B: 1\n"))
		s.MaxField = c.max
		for s.Paragraph() {
			for s.Field() {
			}
		}
		err := s.Err()
		if c.ok != (err == nil) || !c.ok && !errors.Is(err, ErrFieldTooLong) {
			t.Errorf("MaxField %d, %d continuation lines: %v", c.max, c.lines, err)
		}
	}
}

// endlessLines repeats line forever, counting the bytes read.
type endlessLines struct {
	line string
	off  int
	n    int64
}

func (e *endlessLines) Read(p []byte) (int, error) {
	k := 0
	for k < len(p) {
		c := copy(p[k:], e.line[e.off:])
		k += c
		e.off = (e.off + c) % len(e.line)
	}
	e.n += int64(k)
	return k, nil
}
