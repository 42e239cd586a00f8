#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine for dagrun's Slurm tests:
# munged, slurmctld and slurmd run as root in the background, configured for
# localhost only. Installs Debian's slurm-wlm and munge when absent. Safe to
# call again: a cluster that already answers is left as it is.
#
#   scripts/slurm/start.sh      # then: DAGRUN_SLURM=1 make test
#   scripts/slurm/stop.sh
#
# State, logs and pid files live in $DAGRUN_SLURM_STATE (default
# /tmp/dagrun-slurm); the config is written to /etc/slurm/slurm.conf.
set -euo pipefail

STATE=${DAGRUN_SLURM_STATE:-/tmp/dagrun-slurm}
CONF=/etc/slurm/slurm.conf

if [ "$(id -u)" != 0 ]; then
  echo "scripts/slurm/start.sh: needs root (it starts slurmd and munged)" >&2
  exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  echo "scripts/slurm/start.sh: installing slurm-wlm and munge" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
  echo "scripts/slurm/start.sh: a cluster is already up" >&2
  exit 0
fi

# Never overwrite a real cluster's configuration.
if [ -s "$CONF" ] && ! grep -q "^# Written by dagrun's scripts/slurm/start.sh" "$CONF"; then
  echo "scripts/slurm/start.sh: $CONF exists and is not ours; not touching it" >&2
  exit 1
fi

mkdir -p "$STATE"/{ctld,d,log} /etc/slurm /etc/munge /run/munge /var/lib/munge /var/log/munge
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true

# munge: a key of our own when none exists, then the daemon.
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
if ! munge -n </dev/null >/dev/null 2>&1; then
  # --force: a stale socket of a killed munged would stop it otherwise.
  if id munge >/dev/null 2>&1; then
    su -s /bin/sh munge -c "/usr/sbin/munged --force" 
  else
    /usr/sbin/munged --force
  fi
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
fi

host=$(hostname -s)
# At least 8 CPU slots even on a smaller machine (SlurmdParameters below
# lets slurmd take the configured count): test jobs mostly sleep, and a
# job held by its time limit must not keep the others waiting.
cpus=$(nproc)
[ "$cpus" -ge 8 ] || cpus=8
# Leave a little memory to the system; Slurm refuses a node claiming more
# than it has.
mem=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)

cat >"$CONF" <<CONF
# Written by dagrun's scripts/slurm/start.sh: one node on localhost.
ClusterName=dagrun
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
MpiDefault=none
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Jobs that ask for no memory get this much per CPU, not the whole node.
DefMemPerCPU=256
# No accounting daemon: finished jobs stay known to scontrol for MinJobAge
# seconds, which is where dagrun reads JobState, Reason and ExitCode.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.log
MinJobAge=600
# Fast kills and short timers keep the tests short.
KillWait=2
OverTimeLimit=0
InactiveLimit=0
MessageTimeout=10
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF


/usr/sbin/slurmctld -i
/usr/sbin/slurmd

for _ in $(seq 100); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  case "$state" in
    idle|idle\*) break ;;
    down*|drain*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.2
done
state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
if [ "$state" != idle ]; then
  echo "scripts/slurm/start.sh: node $host is ${state:-unknown}, not idle; logs in $STATE/log" >&2
  tail -n 20 "$STATE"/log/*.log >&2 || true
  exit 1
fi
echo "scripts/slurm/start.sh: node $host idle ($cpus CPUs, ${mem} MB)" >&2
