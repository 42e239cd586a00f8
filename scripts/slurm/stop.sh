#!/usr/bin/env bash
# Stop the one-node Slurm cluster that scripts/slurm/start.sh started:
# cancel every job, then stop slurmd, slurmctld and munged by their pid files.
set -uo pipefail

STATE=${DAGRUN_SLURM_STATE:-/tmp/dagrun-slurm}

if command -v scancel >/dev/null && sinfo -h >/dev/null 2>&1; then
  scancel --user="$(id -un)" >/dev/null 2>&1 || true
fi

stop_pid() { # name pidfile
  local pidfile=$2 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "scripts/slurm/stop.sh: $1 ($pid) ignored SIGTERM; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

stop_pid slurmd "$STATE/slurmd.pid"
stop_pid slurmctld "$STATE/slurmctld.pid"
stop_pid munged /run/munge/munged.pid
echo "scripts/slurm/stop.sh: stopped" >&2
