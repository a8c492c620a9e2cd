package debfile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// XZDecoder chooses how a .deb's data.tar.xz and control.tar.xz members are
// decoded. The bytes are the same either way (both check the stream's
// integrity field); the system's xz (liblzma) is about 2.4x faster than the
// pure-Go decoder and runs in a process of its own, so decoding overlaps the
// tar walk. The control member is small, but the pure-Go decoder allocates
// (and zeroes) the whole dictionary the stream names, 8 MiB for dpkg-deb's
// default, for each one: one xz process per .deb costs less (a cold build of
// 141 .debs, about 3 % less CPU).
type XZDecoder string

// The decoders.
const (
	// XZAuto uses the system's xz when one is on PATH, else pure Go.
	XZAuto XZDecoder = "auto"
	// XZSystem requires the system's xz; a missing one is an error.
	XZSystem XZDecoder = "system"
	// XZGo always uses the pure-Go decoder (github.com/ulikunitz/xz).
	XZGo XZDecoder = "go"
)

// ParseXZDecoder reads a STRATA_XZ value: "", "auto", "system" or "go".
func ParseXZDecoder(s string) (XZDecoder, error) {
	switch d := XZDecoder(strings.TrimSpace(s)); d {
	case "":
		return XZAuto, nil
	case XZAuto, XZSystem, XZGo:
		return d, nil
	}
	return "", fmt.Errorf("STRATA_XZ=%q: use auto (the system's xz when installed, else pure Go), system or go", s)
}

type xzKey struct{}

// WithXZ returns a context whose unpacks decode xz with d.
func WithXZ(ctx context.Context, d XZDecoder) context.Context {
	return context.WithValue(ctx, xzKey{}, d)
}

func xzFrom(ctx context.Context) XZDecoder {
	if d, ok := ctx.Value(xzKey{}).(XZDecoder); ok && d != "" {
		return d
	}
	return XZAuto
}

// systemXZ returns the path of the system's xz (a few stat calls: cheap
// next to the fork it precedes).
func systemXZ() (string, error) {
	p, err := exec.LookPath("xz")
	if err != nil {
		return "", fmt.Errorf("the system's xz is not on PATH (install the xz-utils package, or set STRATA_XZ=go for the slower pure-Go decoder): %w", err)
	}
	return p, nil
}

// SystemXZ reports the path of the xz program unpacks would run under
// XZAuto, or an error saying why there is none.
func SystemXZ() (string, error) { return systemXZ() }

// xzProcess decodes r with `xz --decompress --stdout` in a child process.
// Its reader ends with an error naming xz and what it printed when xz
// fails; close stops xz if the reader was not read to the end and waits
// for it, so r is not read any more once close returns.
type xzProcess struct {
	ctx    context.Context
	member string
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *capped
	waited bool
	err    error
}

func startXZ(ctx context.Context, path, member string, r io.Reader) (*xzProcess, error) {
	cmd := exec.CommandContext(ctx, path, "--decompress", "--stdout", "--quiet", "--no-adjust",
		"--memlimit-decompress="+strconv.Itoa(MaxLZMADict+xzMemSlack), "--threads=1")
	cmd.Stdin = r
	cmd.Env = []string{"LC_ALL=C"} // messages in English, no XZ_DEFAULTS/XZ_OPT from the host
	p := &xzProcess{ctx: ctx, member: member, cmd: cmd, stderr: &capped{max: 4 << 10}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s to decode %s: %w (set STRATA_XZ=go to use the pure-Go decoder)", path, member, err)
	}
	p.out = out
	return p, nil
}

func (p *xzProcess) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.out.Read(b)
	if err == io.EOF {
		if werr := p.wait(); werr != nil {
			p.err = werr
			return n, werr
		}
	}
	return n, err
}

func (p *xzProcess) wait() error {
	if p.waited {
		return p.err
	}
	p.waited = true
	err := p.cmd.Wait()
	if err == nil {
		return nil
	}
	if ctxErr := context.Cause(p.ctx); ctxErr != nil {
		return ctxErr
	}
	msg := strings.TrimSpace(p.stderr.String())
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, p.cmd.Path+": "), "xz: ")
	if msg == "" {
		msg = "no message"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("decoding %s with %s: %v: %s (the .deb is damaged, or this xz cannot decode it: STRATA_XZ=go decodes with pure Go instead)", p.member, p.cmd.Path, err, msg)
	}
	return fmt.Errorf("decoding %s with %s: %w", p.member, p.cmd.Path, err)
}

func (p *xzProcess) close() {
	if !p.waited {
		p.out.Close() // xz gets EPIPE (or is killed below) and stops
		if p.cmd.Process != nil {
			p.cmd.Process.Kill() //nolint:errcheck // it may have exited already
		}
		p.waited = true
		p.cmd.Wait() //nolint:errcheck // an early stop is not a decoding error
	}
}

// capped keeps the first max bytes written to it.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// xzMemSlack is what liblzma needs beside the dictionary when decoding
// (about 1 MiB for LZMA2; more leaves room for its version's overhead).
const xzMemSlack = 8 << 20

// checkXZDict reads the stream header and the first block header of the
// xz stream in br (without consuming them) and refuses an LZMA2 filter
// whose dictionary exceeds MaxLZMADict. A stream too short or malformed
// to hold a block header is left to the decoder, which reports it.
func checkXZDict(br *bufio.Reader, member string) error {
	const streamHeader = 12 // magic, flags, CRC32
	b, err := br.Peek(streamHeader + 1)
	if err != nil || !bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) || b[streamHeader] == 0 {
		return nil // not xz, or no block: the decoder decides
	}
	size := (int(b[streamHeader]) + 1) * 4
	if b, err = br.Peek(streamHeader + size); err != nil {
		return nil
	}
	_, err = parseBlockHeader(b[streamHeader:streamHeader+size], member)
	return err
}
