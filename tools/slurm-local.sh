#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm tests (packages/cli/src/slurm.slow.test.ts) and for
# trying `dep slurm` scripts: munged, slurmctld and slurmd as background daemons, with a slurm.conf written
# for this machine's CPUs and memory into a private folder (nothing in /etc is changed).
#
#   tools/slurm-local.sh start   # prints `export SLURM_CONF=…`; idempotent
#   tools/slurm-local.sh stop
#
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge) and root (slurmd starts jobs as their
# user). DEP_SLURM_DIR moves the folder (default /tmp/dep-slurm).
set -euo pipefail

dir="${DEP_SLURM_DIR:-/tmp/dep-slurm}"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

pid_alive() { local pid; pid=$(cat "$1" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }

start() {
  mkdir -p "$dir/state" "$dir/spool" /run/munge
  chown munge:munge /run/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  if ! pid_alive /run/munge/munged.pid; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  fi
  local cpus mem
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
  cat >"$conf" <<EOF
# written by tools/slurm-local.sh: one node, this machine
ClusterName=dep-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=${DEP_SLURMCTLD_PORT:-6817}
SlurmdPort=${DEP_SLURMD_PORT:-6818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=30
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  pid_alive "$dir/slurmctld.pid" || /usr/sbin/slurmctld -f "$conf"
  pid_alive "$dir/slurmd.pid" || /usr/sbin/slurmd -f "$conf" -N localhost
  # wait until the node takes jobs
  for _ in $(seq 1 60); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
      echo "export SLURM_CONF=$conf"
      return 0
    fi
    sleep 1
  done
  echo "slurm-local: the node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
  sinfo -N -l >&2 || true
  return 1
}

stop() {
  local p
  for p in "$dir/slurmd.pid" "$dir/slurmctld.pid" /run/munge/munged.pid; do
    if pid_alive "$p"; then
      kill "$(cat "$p")" 2>/dev/null || true
      for _ in $(seq 1 20); do pid_alive "$p" || break; sleep 0.5; done
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
