package ocilayout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/sink"
)

// RefNameAnnotation names an image inside a layout.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Sink writes an OCI image layout to Dir.
type Sink struct{ Dir string }

// New returns a sink for dir.
func New(dir string) *Sink { return &Sink{Dir: dir} }

func (s *Sink) String() string { return "oci:" + s.Dir }

// Write implements sink.Sink. The layout holds exactly this target.
func (s *Sink) Write(ctx context.Context, tagName string, a image.Artifact) (sink.Result, error) {
	res, err := sink.Describe(a, sink.Result{Sink: s.String()})
	if err != nil {
		return res, err
	}
	return res, s.write(tagName, a, &res)
}

func (s *Sink) write(tagName string, a image.Artifact, res *sink.Result) error {
	dir := filepath.Clean(s.Dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dir), err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	tag := tagName
	if i := strings.LastIndex(tag, ":"); i >= 0 && !strings.Contains(tag[i:], "/") {
		tag = tag[i+1:]
	}
	ann := layout.WithAnnotations(map[string]string{RefNameAnnotation: tag})
	res.Ref = "oci:" + dir + ":" + tag
	switch x := a.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(x, ann)
	case v1.Image:
		err = p.AppendImage(x, ann)
	default:
		err = fmt.Errorf("unknown artifact type %T", a)
	}
	if err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return swapDir(tmp, dir)
}

// swapDir puts the finished folder tmp at dir, replacing what was there.
func swapDir(tmp, dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replacing %s: %w", dir, err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(old, dir)
			return fmt.Errorf("replacing %s: %w", dir, err)
		}
		return os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	return nil
}
