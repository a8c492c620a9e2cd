// Package atomicfile writes files so that readers never see a partial one:
// the bytes go to a temp file in the same folder, which is fsynced, given
// its mode, closed and renamed over the target; the folder is then fsynced
// so the rename survives a crash. On any error the temp file is removed and
// the target is untouched.
//
// Write and WriteFile are the usual entry points. WriteTemp and Rename are
// the two halves, for callers whose temp folder differs from the target's
// (the store keeps its temp files in one folder on the same file system)
// or whose target name is known only after writing (a blob named by its
// digest).
//
// Every temp name carries its owner's process id (TempPattern:
// PREFIXtmp-PID-RANDOM), so that a later run can tell a leftover of a
// killed process from a file another live process is writing
// (RemoveStale, by owner and age: MaxTempAge).
package atomicfile
