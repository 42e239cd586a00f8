// Package command provides the `command` kind: any external program, with
// its inputs and output folder passed as paths.
//
// Invariants: the program file's content digest and the allow-listed
// environment (names and values) enter the key, so editing the program
// reruns the node; the child gets no other environment than PATH, HOME,
// TMPDIR, LC_ALL=C and what the spec lists; a cancelled run kills the whole
// process group.
package command
