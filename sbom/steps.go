package sbom

import (
	"sort"
	"strings"
)

// Node Meta keys a files node copied from a build step's output carries
// (set by closure/files from package step's output node).
const (
	MetaBuild        = "build"         // the step's name
	MetaBuildKey     = "buildKey"      // its input key
	MetaBuildTree    = "buildTreeHash" // its output's tree hash
	MetaBuildSrc     = "buildSrcHash"  // its src tree's hash
	MetaBuildClosure = "buildClosure"  // its build closure: "name version" lines
)

// stepInfo is how one build step made image content: the formulation.
type stepInfo struct {
	name, key, tree, src string
	closure              []string // "name version"
	outputs              []string // component IDs of the files nodes it produced
}

// steps gathers the build steps behind the graph's files nodes, by name.
func (in Input) steps() []*stepInfo {
	by := map[string]*stepInfo{}
	for _, id := range in.Graph.IDs() {
		m := in.Graph.Nodes[id].Meta
		name := m[MetaBuild]
		if name == "" {
			continue
		}
		s := by[name]
		if s == nil {
			s = &stepInfo{name: name, key: m[MetaBuildKey], tree: m[MetaBuildTree], src: m[MetaBuildSrc]}
			for _, l := range strings.Split(m[MetaBuildClosure], "\n") {
				if l = strings.TrimSpace(l); l != "" {
					s.closure = append(s.closure, l)
				}
			}
			by[name] = s
		}
		s.outputs = append(s.outputs, id)
	}
	out := make([]*stepInfo, 0, len(by))
	for _, s := range by {
		out = append(out, s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].name < out[b].name })
	return out
}

func (s *stepInfo) comment() string {
	c := "strata build step " + s.name + ": input key " + s.key + ", output tree " + s.tree
	if s.src != "" {
		c += ", src tree " + s.src
	}
	if len(s.closure) > 0 {
		c += "; build closure: " + strings.Join(s.closure, ", ")
	}
	return c
}

// cdxFormula is CycloneDX 1.6's formulation entry for the build steps.
type cdxFormula struct {
	BOMRef     string         `json:"bom-ref"`
	Components []cdxComponent `json:"components,omitempty"`
	Workflows  []cdxWorkflow  `json:"workflows"`
}

type cdxWorkflow struct {
	BOMRef     string        `json:"bom-ref"`
	UID        string        `json:"uid"`
	Name       string        `json:"name"`
	TaskTypes  []string      `json:"taskTypes"`
	Inputs     []cdxResource `json:"inputs,omitempty"`
	Outputs    []cdxResource `json:"outputs,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxResource struct {
	Resource cdxRef `json:"resource"`
}

type cdxRef struct {
	Ref string `json:"ref"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// formulation describes how each build step made its outputs: its build
// closure as the formula's components (inputs), the files components it
// produced as outputs, and its key and hashes as properties.
func (in Input) formulation() []cdxFormula {
	var out []cdxFormula
	for _, s := range in.steps() {
		f := cdxFormula{BOMRef: "formula:" + s.name}
		w := cdxWorkflow{BOMRef: "workflow:" + s.name, UID: s.key, Name: "build step " + s.name, TaskTypes: []string{"build"}}
		if w.UID == "" {
			w.UID = s.name
		}
		for _, c := range s.closure {
			name, version, _ := strings.Cut(c, " ")
			ref := "formula:" + s.name + ":" + name
			f.Components = append(f.Components, cdxComponent{BOMRef: ref, Type: "library", Name: name, Version: version})
			w.Inputs = append(w.Inputs, cdxResource{cdxRef{ref}})
		}
		for _, o := range s.outputs {
			w.Outputs = append(w.Outputs, cdxResource{cdxRef{o}})
		}
		for _, p := range []cdxProperty{{"strata:step:key", s.key}, {"strata:step:outputTreeHash", s.tree}, {"strata:step:srcTreeHash", s.src}} {
			if p.Value != "" {
				w.Properties = append(w.Properties, p)
			}
		}
		f.Workflows = []cdxWorkflow{w}
		out = append(out, f)
	}
	return out
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
