package rootfs

import (
	"fmt"
	"regexp"
)

// fieldRef is a reference to a distribution field inside a spec's
// osRelease value: ${VERSION}.
var fieldRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]*)\}`)

// facts are the distribution's own os-release fields, before the spec's.
func (r OSRelease) facts() map[string]string {
	return map[string]string{
		"PRETTY_NAME": r.PrettyName, "NAME": r.Name, "VERSION_ID": r.VersionID,
		"VERSION": r.Version, "VERSION_CODENAME": r.VersionCodename, "ID": r.ID,
	}
}

// expanded replaces ${FIELD} in the spec's fields with the distribution's
// value of FIELD (one of PRETTY_NAME, NAME, VERSION_ID, VERSION,
// VERSION_CODENAME, ID), so a suite-neutral spec can say
// `VERSION: "Debian GNU/Linux ${VERSION}"` and get the release it is
// built on. A field the distribution leaves empty gives "".
func (r OSRelease) expanded() (OSRelease, error) {
	if len(r.Fields) == 0 {
		return r, nil
	}
	facts := r.facts()
	out := make(map[string]string, len(r.Fields))
	for k, v := range r.Fields {
		var bad string
		out[k] = fieldRef.ReplaceAllStringFunc(v, func(m string) string {
			name := fieldRef.FindStringSubmatch(m)[1]
			val, ok := facts[name]
			if !ok && bad == "" {
				bad = name
			}
			return val
		})
		if bad != "" {
			return r, fmt.Errorf("osRelease %s %q refers to ${%s}, which is not a distribution field (use ${PRETTY_NAME}, ${NAME}, ${VERSION_ID}, ${VERSION}, ${VERSION_CODENAME} or ${ID})", k, v, bad)
		}
	}
	r.Fields = out
	return r, nil
}
