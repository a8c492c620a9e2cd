package purl

import (
	"fmt"
	"strings"
)

// Qualifier is one key=value of a purl; keys go in the order given (the
// specification wants them sorted, callers pass them sorted).
type Qualifier struct{ Key, Value string }

// New renders pkg:typ/namespace/name[@version][?k=v&...]; empty
// qualifier values are left out, an empty namespace too.
func New(typ, namespace, name, version string, qs ...Qualifier) string {
	var b strings.Builder
	b.WriteString("pkg:" + typ + "/")
	if namespace != "" {
		b.WriteString(Escape(namespace) + "/")
	}
	b.WriteString(Escape(name))
	if version != "" {
		b.WriteString("@" + Escape(version))
	}
	sep := "?"
	for _, q := range qs {
		if q.Value == "" {
			continue
		}
		b.WriteString(sep + q.Key + "=" + Escape(q.Value))
		sep = "&"
	}
	return b.String()
}

// Escape percent-encodes everything but unreserved characters.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
