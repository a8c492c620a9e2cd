package debfile

// Limits are the extraction limits a test may shrink; zero fields keep
// the default.
type Limits struct {
	HardCap, Slack, Expansion, ControlBytes int64
	Entries, ControlEntries, ArMembers      int
}

// SetLimits replaces the extraction limits until the returned function
// restores them (tests of one package run one at a time unless parallel).
func SetLimits(l Limits) (restore func()) {
	old := lim
	set := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	seti := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	set(&lim.hardCap, l.HardCap)
	set(&lim.slack, l.Slack)
	set(&lim.expansion, l.Expansion)
	set(&lim.controlBytes, l.ControlBytes)
	seti(&lim.entries, l.Entries)
	seti(&lim.controlEntries, l.ControlEntries)
	seti(&lim.arMembers, l.ArMembers)
	return func() { lim = old }
}
