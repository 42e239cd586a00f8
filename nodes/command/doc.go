// Package command provides the `command` kind: any external program, with
// its inputs and output folder passed as paths.
//
// Invariants: the program file's content digest and the allow-listed
// environment (names and values) enter the key, so editing the program
// reruns the node; the child gets no other environment than PATH, HOME and
// TMPDIR (both its scratch folder), LC_ALL=C, DAGRUN_OUT (its output
// folder) and what the spec lists; a cancelled run kills the whole process
// group.
//
// The child runs in its own process group. When its main process exits,
// whatever is left of the group is killed (SIGKILL) before Run returns, so
// no background process can write into the outputs after they are hashed
// and stored, or hold the output open. The child gets PR_SET_PDEATHSIG
// (SIGKILL) and is forked from a thread that lives as long as dagrun, so
// it dies with dagrun; the group's id is reported through
// Env.ProcessGroup, so that a restarted dagrun ends the rest of the group
// before it runs the node again. Processes that leave the group (setsid)
// escape all of this.
//
// stdout and stderr go straight to Env.Output when it is a file (the
// engine's log file): output is streamed, never held in memory.
package command
