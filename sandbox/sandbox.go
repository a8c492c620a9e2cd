package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// OutPath is where a step's output folder appears inside the sandbox ($out).
const OutPath = "/out"

// protocol names the behaviour of this package for step keys: bump it
// whenever what a step sees changes (mounts, environment, uid, cwd).
const protocol = "strata-sandbox-1"

// Inside the sandbox.
const (
	buildUID  = 1000
	buildGID  = 1000
	hostname  = "localhost"
	workDir   = "/tmp"
	homeDir   = "/homeless-shelter"
	stepPATH  = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	tailBytes = 4096
)

// Mount is a host path bound into the sandbox.
type Mount struct {
	Src      string // host path
	Dst      string // absolute path inside the sandbox
	Writable bool   // default read-only
}

// Spec is one step to run.
type Spec struct {
	// Root is the host folder holding the read-only root filesystem (the
	// build closure, merged /usr: /bin -> usr/bin etc. are symlinks in it).
	Root string
	// Mounts are /src (read-only) and other steps' outputs (read-only).
	// A Dst must not lie inside /proc, /dev, /tmp, OutPath or another Mount.
	Mounts []Mount
	// Out is an empty host folder, bound writable at OutPath.
	Out string
	// Env is the step's environment on top of the fixed set (and the
	// passEnv values of fixed-output steps).
	Env map[string]string
	// Run is the script, run as `/bin/sh -e -c RUN`.
	Run string
	// Network false means a new network namespace with loopback only.
	Network         bool
	SourceDateEpoch int64
	// Log gets the step's combined stdout and stderr (nil: discarded).
	Log io.Writer
}

// ErrUnavailable is wrapped by every error that says the sandbox cannot be
// created on this machine (bubblewrap missing, user namespaces disabled).
var ErrUnavailable = errors.New("the build sandbox is unavailable")

// ExitError is a step that ran and exited with a non-zero status.
type ExitError struct {
	Status int
}

func (e *ExitError) Error() string {
	if e.Status > 128 {
		return fmt.Sprintf("the step failed: exit status %d (killed by signal %d)", e.Status, e.Status-128)
	}
	return fmt.Sprintf("the step failed: exit status %d", e.Status)
}

// Run runs the step; an error says what failed: the step's exit status (an
// *ExitError; the caller prints the log), or that the sandbox cannot be
// created (wrapping ErrUnavailable), naming what is missing and the fix.
func Run(ctx context.Context, s Spec) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("running the step: %w", err)
	}
	shell, err := s.check()
	if err != nil {
		return err
	}
	bwrap, err := findBwrap()
	if err != nil {
		return err
	}
	args, err := s.args(shell)
	if err != nil {
		return err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating the sandbox's status pipe: %w", err)
	}
	defer statusR.Close()

	log := &tailWriter{w: s.Log}
	if log.w == nil {
		log.w = io.Discard
	}
	cmd := exec.CommandContext(ctx, bwrap, args...)
	cmd.Env = s.environ()
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{statusW} // fd 3: --json-status-fd 3
	// Pdeathsig: if strata dies, so does bwrap (and with it the step). It
	// fires when the OS thread that started bwrap exits, which the Go
	// runtime does only for a goroutine that exits locked to its thread.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		// bwrap leads its own process group; the step itself is further
		// down in the pid namespace and dies with bwrap's init.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		statusW.Close()
		return fmt.Errorf("%w: starting %s: %v (reinstall bubblewrap: apt-get install bubblewrap)", ErrUnavailable, bwrap, err)
	}
	statusW.Close()
	statusc := make(chan status, 1)
	go func() { statusc <- readStatus(statusR) }()
	waitErr := cmd.Wait()
	var st status
	select {
	case st = <-statusc:
	case <-time.After(5 * time.Second):
		statusR.Close() // something still holds the pipe; take what was read
		st = <-statusc
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("running the step: %w (the step was killed)", err)
	}
	if !st.exited {
		// bwrap reports an exit code only for a step it started; a
		// failure before (namespaces, mounts, exec) prints one line.
		return setupError(st.started, waitErr, log.tail())
	}
	if st.code != 0 {
		return &ExitError{Status: st.code}
	}
	if waitErr != nil { // the step passed, but its log could not be written
		return fmt.Errorf("running the step: %w", waitErr)
	}
	return nil
}

// Version identifies the sandbox's behaviour for step keys: the protocol
// version of this package plus the tool's version ("strata-sandbox-1 bwrap 0.8.0").
func Version(ctx context.Context) (string, error) {
	bwrap, err := findBwrap()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, bwrap, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%w: running %s --version: %v (reinstall bubblewrap: apt-get install bubblewrap)", ErrUnavailable, bwrap, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "bubblewrap" {
		return "", fmt.Errorf("%w: %s --version printed %q, not \"bubblewrap VERSION\" (is it bubblewrap?)", ErrUnavailable, bwrap, strings.TrimSpace(string(out)))
	}
	return protocol + " bwrap " + f[1], nil
}

func findBwrap() (string, error) {
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("%w: bubblewrap (bwrap) is not on PATH: install it (apt-get install bubblewrap)", ErrUnavailable)
	}
	return p, nil
}

// check validates the spec and returns the shell to run inside.
func (s *Spec) check() (string, error) {
	if s.Root == "" || s.Out == "" {
		return "", errors.New("sandbox: Spec.Root and Spec.Out are required")
	}
	if fi, err := os.Stat(s.Root); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("the step's root %s is not a folder (materialize the build closure there first)", s.Root)
	}
	ents, err := os.ReadDir(s.Out)
	if err != nil {
		return "", fmt.Errorf("reading the step's output folder: %w (create it empty first)", err)
	}
	if len(ents) != 0 {
		return "", fmt.Errorf("the step's output folder %s is not empty (it holds %s); give each run a fresh empty folder", s.Out, ents[0].Name())
	}
	points := fixedPoints(s.Network)
	for _, m := range s.Mounts {
		if !path.IsAbs(m.Dst) || path.Clean(m.Dst) != m.Dst || m.Dst == "/" {
			return "", fmt.Errorf("mount destination %q must be a clean absolute path other than /", m.Dst)
		}
		for _, p := range points {
			if m.Dst == p || strings.HasPrefix(m.Dst, p+"/") || strings.HasPrefix(p, m.Dst+"/") {
				return "", fmt.Errorf("mount destination %s overlaps %s; give it its own folder, such as /src or /deps", m.Dst, p)
			}
		}
		if _, err := os.Stat(m.Src); err != nil {
			return "", fmt.Errorf("mount source for %s: %w", m.Dst, err)
		}
		points = append(points, m.Dst)
	}
	for k, v := range s.Env {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0):
			return "", fmt.Errorf("the step's environment variable %q is not a valid name or value", k)
		case k == "out" || k == "SOURCE_DATE_EPOCH":
			return "", fmt.Errorf("the step's environment may not set %s: the sandbox sets it", k)
		}
	}
	if s.SourceDateEpoch < 0 {
		return "", fmt.Errorf("SOURCE_DATE_EPOCH %d is negative", s.SourceDateEpoch)
	}
	root, err := os.OpenRoot(s.Root)
	if err != nil {
		return "", fmt.Errorf("opening the step's root: %w", err)
	}
	defer root.Close()
	for _, sh := range []string{"bin/sh", "usr/bin/sh"} {
		if fi, err := root.Stat(sh); err == nil && fi.Mode().IsRegular() {
			return "/" + sh, nil
		}
	}
	return "", fmt.Errorf("the step's root %s has no /bin/sh or /usr/bin/sh: add a shell (dash or busybox) to the build closure, with bin -> usr/bin (merged /usr)", s.Root)
}

// fixedPoints are the mount points every step gets.
func fixedPoints(network bool) []string {
	p := []string{"/proc", "/dev", "/tmp", OutPath}
	if network {
		p = append(p, "/etc/resolv.conf")
	}
	return p
}

// environ is the step's whole environment, sorted.
func (s *Spec) environ() []string {
	env := map[string]string{
		"PATH":              stepPATH,
		"HOME":              homeDir,
		"TZ":                "UTC",
		"LC_ALL":            "C.UTF-8",
		"SOURCE_DATE_EPOCH": strconv.FormatInt(s.SourceDateEpoch, 10),
		"out":               OutPath,
	}
	for k, v := range s.Env {
		env[k] = v
	}
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	slices.Sort(list)
	return list
}

// args is bwrap's command line.
func (s *Spec) args(shell string) ([]string, error) {
	a := []string{
		"--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try",
		"--uid", strconv.Itoa(buildUID), "--gid", strconv.Itoa(buildGID),
		"--hostname", hostname,
		"--die-with-parent", "--new-session", "--cap-drop", "ALL",
		"--json-status-fd", "3",
	}
	if !s.Network {
		a = append(a, "--unshare-net")
	}
	points := fixedPoints(s.Network)
	for _, m := range s.Mounts {
		points = append(points, m.Dst)
	}
	tree, err := rootArgs(s.Root, points)
	if err != nil {
		return nil, err
	}
	a = append(a, tree...)
	a = append(a, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", s.Out, OutPath)
	for _, m := range s.Mounts {
		if m.Writable {
			a = append(a, "--bind", m.Src, m.Dst)
		} else {
			a = append(a, "--ro-bind", m.Src, m.Dst)
		}
	}
	if s.Network {
		// The step needs DNS. Trust roots are the caller's choice: the
		// build closure's, or a Mount of the host's bundle (package step
		// mounts it for fixed-output steps, whose output is checked by
		// hash).
		a = append(a, "--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf")
	}
	a = append(a, "--remount-ro", "/", "--chdir", workDir, "--", shell, "-e", "-c", s.Run)
	return a, nil
}

// status is what bwrap reported on --json-status-fd.
type status struct {
	started, exited bool
	code            int
}

func readStatus(r io.Reader) status {
	var st status
	dec := json.NewDecoder(r)
	for {
		var m struct {
			ChildPID *int `json:"child-pid"`
			ExitCode *int `json:"exit-code"`
		}
		if err := dec.Decode(&m); err != nil {
			return st
		}
		if m.ChildPID != nil {
			st.started = true
		}
		if m.ExitCode != nil {
			st.exited, st.code = true, *m.ExitCode
		}
	}
}

// setupError explains why bwrap could not create the sandbox.
// Namespaces fail in bwrap's clone (nothing started) or while it writes
// the uid map or brings up loopback.
func setupError(started bool, waitErr error, tail string) error {
	msg := lastLine(tail)
	if msg == "" {
		msg = fmt.Sprint(waitErr)
	}
	low := strings.ToLower(msg)
	userns := !started
	for _, hint := range []string{"namespace", "uid map", "gid map", "setgroups", "loopback"} {
		userns = userns || strings.Contains(low, hint)
	}
	if userns {
		return fmt.Errorf("%w: bubblewrap cannot create the sandbox's namespaces (%s): user namespaces are not available to this user; enable unprivileged user namespaces with `sysctl -w kernel.unprivileged_userns_clone=1` (Debian kernels), `sysctl -w user.max_user_namespaces=15000` (when it is 0) or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu 23.10 and later); in a container, allow user namespaces (e.g. docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined)", ErrUnavailable, msg)
	}
	return fmt.Errorf("%w: bubblewrap could not create the sandbox: %s", ErrUnavailable, msg)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// tailWriter passes writes on and keeps the last tailBytes for errors.
type tailWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = bytes.Clone(t.buf[len(t.buf)-tailBytes:])
	}
	return t.w.Write(p)
}

func (t *tailWriter) tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
