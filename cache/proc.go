package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// proc identifies a process on a host: a pid alone may be reused, so its
// start time (in clock ticks after boot, from /proc/<pid>/stat) goes with it.
type proc struct {
	host  string
	pid   int
	start int64
	// procfs reports whether /proc could be read; without it no process is
	// judged dead and only lease expiry frees a lease.
	procfs bool
}

func selfProc() proc {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	p := proc{host: host, pid: os.Getpid()}
	if start, _, err := procStat(p.pid); err == nil {
		p.start, p.procfs = start, true
	}
	return p
}

// procStat returns the start time of pid and whether it is a zombie.
func procStat(pid int) (start int64, zombie bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	// "pid (comm) state ppid …": comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, false, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	start, err = strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("/proc/%d/stat: starttime: %w", pid, err)
	}
	return start, f[0] == "Z" || f[0] == "X", nil
}

// gone reports whether the process (host, pid, start) certainly no longer
// runs: it is on this host and its pid is absent, a zombie, or another
// process (a different start time).
func (c *Cache) gone(host string, pid int, start int64) bool {
	if host != c.self.host || !c.self.procfs || pid <= 0 {
		return false
	}
	st, zombie, err := procStat(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true
	case err != nil:
		return false
	}
	return zombie || st != start
}

// groupMembers returns the pids of the processes in process group pgid
// that started at or after minStart (clock ticks after boot), read from
// /proc.
func groupMembers(pgid int, minStart int64) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 20 {
			continue
		}
		pg, err1 := strconv.Atoi(f[2])
		start, err2 := strconv.ParseInt(f[19], 10, 64)
		if err1 == nil && err2 == nil && pg == pgid && start >= minStart && f[0] != "Z" && f[0] != "X" {
			out = append(out, pid)
		}
	}
	return out
}
