// Package elfdeps finds the runtime closure of a build step's output: for
// every ELF file the step produced, the interpreter and the DT_NEEDED
// libraries it loads, transitively, and the nodes of the build closure that
// ship them (the runtime package such as libc6, never the -dev package
// whose linker symlinks merely point at it).
//
// Resolve searches the way glibc's ld.so does in an image without
// ld.so.cache (strata runs no ldconfig):
//
//	DT_NEEDED "libz.so.1" of an object O (loaded by … by the output file F)
//	  1. DT_RPATH of O and then of each loader up to F, when O has no DT_RUNPATH
//	     (a loader with a DT_RUNPATH of its own lends no DT_RPATH)
//	  2. DT_RUNPATH of O
//	  3. the system folders for F's machine: lib/<triple>, usr/lib/<triple>,
//	     lib, usr/lib, then lib64, usr/lib64 on 64-bit machines
//	  a candidate of another ELF class or machine is passed over, as ld.so does;
//	  a name already loaded for F (by its file name or DT_SONAME) is not searched again
//	PT_INTERP "/lib64/ld-linux-x86-64.so.2": that exact path
//
// $ORIGIN (and ${ORIGIN}) is the folder of F's resolved path for F, and the
// folder an object was found in for a library; $LIB is lib/<triple> (lib64
// or lib without a known triple); an entry with any other token, or a
// relative one, is dropped, as ld.so drops what it cannot expand.
//
// Paths are looked up in one index over the output and the build closure's
// entries (the output wins, as its layer lies on top), following symlinks
// in every component — lib -> usr/lib from the generated layer, the soname
// link libz.so.1 -> libz.so.1.2.13 — so the node chosen is the owner of the
// regular file at the end of the chain. The index is built once per Resolve.
package elfdeps
