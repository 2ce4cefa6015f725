#!/usr/bin/env bash
# The worker side of experiments/launch_tpu.sh: runs one command on this TPU VM worker,
# in its own process group, logging to <log-dir>/worker-<i>.log.
#
#   bash experiments/tpu_worker.sh [--worker-id=I] --num-workers=N --log-dir=DIR -- 'COMMAND'
#
# I defaults to this worker's agent-worker-number in the TPU metadata. Before starting, it
# stops the job an earlier launch left on this worker (it would hold the chips). The exit
# status is the command's (143 after a hang-up, Ctrl-C or TERM, which stop the job).
# launch_tpu.sh sources this file for job_script and the log paths, so that its dry run
# prints exactly what each worker runs.
set -euo pipefail

WORKER_REPO='$HOME/semcal_jax'   # the checkout launch_tpu.sh installs; expanded on the worker

# The job one worker runs: its identity and the venv in the environment, then the command
# (TPU_WORKER_ID too, the name commands written for TPU VMs tend to use).
job_script() {  # WORKER_ID NUM_WORKERS COMMAND
  local env="SEMCAL_WORKER_ID=$1 SEMCAL_NUM_WORKERS=$2 TPU_WORKER_ID=$1"
  printf '(export %s PATH=%s/.venv/bin:$PATH; cd %s && %s)' "$env" "$WORKER_REPO" "$WORKER_REPO" \
    "$3"
}

# Where worker i writes its log. A gs:// log is written to a local file on the worker and
# copied up (see worker_main); a local workdir gets it in place.
log_path() { printf '%s/worker-%s.log' "$1" "$2"; }          # LOG_DIR WORKER_ID
local_log_path() {                                           # LOG_PATH
  case "$1" in
    gs://*) printf '%s/semcal_logs/%s' '$HOME' "${1#gs://}" ;;
    *) printf '%s' "$1" ;;
  esac
}

# ---------------------------------------------------------------------------------------
# Logs of a gs:// workdir: the job writes to a local file and a background loop copies
# that file to gs:// every UPLOAD_EVERY_S seconds, and once more when the job ends. The
# job never blocks on, or dies with, an upload (a pipe into `gcloud storage cp -` would
# make a failed upload kill the job with SIGPIPE, and would only publish the object when
# the stream closes, so a preempted worker would leave no log at all); at most one period
# of log is lost with the VM. A fresh VM first fetches the existing gs:// log, so logs
# of relaunches are appended to, not replaced.
# ---------------------------------------------------------------------------------------
metadata_worker_id() {
  curl -sf -m 10 -H 'Metadata-Flavor: Google' \
    http://metadata.google.internal/computeMetadata/v1/instance/attributes/agent-worker-number
}

# Stops the job a previous launch left on this worker (it would hold the TPU chips).
stop_previous_job() {
  local pidfile="$1" pgid
  [ -f "$pidfile" ] || return 0
  pgid="$(cat "$pidfile")"
  if [[ "$pgid" =~ ^[0-9]+$ ]] && kill -0 -- "-$pgid" 2>/dev/null; then
    echo "tpu_worker.sh: stopping the previous job (process group $pgid)" >&2
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

upload_log() {  # LOCAL REMOTE
  gcloud storage cp --no-user-output-enabled "$1" "$2" 2>/dev/null || \
    echo "tpu_worker.sh: could not copy $1 to $2 (will retry)" >&2
}

# A hang-up (the ssh session dropped), Ctrl-C or TERM: stop the whole job, keep its log.
# Runs inside worker_main, whose job, uploader, log and local_log it reads.
stop_job_and_exit() {
  kill -TERM -- "-$job" 2>/dev/null || true
  wait "$job" 2>/dev/null || true
  [ -z "$uploader" ] || kill "$uploader" 2>/dev/null || true
  [[ "$log" != gs://* ]] || upload_log "$local_log" "$log"
  exit 143
}

# Bad arguments: one line on stderr, exit 2.
worker_die() { echo "tpu_worker.sh: $*" >&2; exit 2; }

worker_main() {
  local worker_id="" num_workers="" log_dir="" cmd
  while [ $# -gt 0 ]; do
    case "$1" in
      --worker-id=*) worker_id="${1#*=}" ;;
      --num-workers=*) num_workers="${1#*=}" ;;
      --log-dir=*) log_dir="${1#*=}" ;;
      --) shift; break ;;
      *) worker_die "unknown argument $1" ;;
    esac
    shift
  done
  cmd="${1:-}"
  [ -n "$cmd" ] || worker_die "give the command after --"
  [ -n "$worker_id" ] || worker_id="$(metadata_worker_id)" ||
    worker_die "no agent-worker-number in the TPU metadata (pass --worker-id=I)"
  local log local_log state_dir="$HOME/.semcal_launch"
  log="$(log_path "$log_dir" "$worker_id")"
  local_log="$(local_log_path "$log")"; local_log="${local_log//\$HOME/$HOME}"
  mkdir -p "$state_dir" "$(dirname "$local_log")"
  stop_previous_job "$state_dir/job.pid"
  if [[ "$log" == gs://* && ! -s "$local_log" ]]; then
    gcloud storage cp --no-user-output-enabled "$log" "$local_log" 2>/dev/null || true
  fi
  printf '\n=== %s worker %s of %s: %s\n' "$(date -u +%FT%TZ)" "$worker_id" "$num_workers" "$cmd" \
    >>"$local_log"
  local offset job rc=0 uploader="" tailer=""
  offset="$(stat -c %s "$local_log")"
  # Its own session (process group), so that a relaunch or a signal stops all of it.
  setsid bash -c "$(job_script "$worker_id" "$num_workers" "$cmd")" >>"$local_log" 2>&1 </dev/null &
  job=$!
  echo "$job" >"$state_dir/job.pid"
  trap stop_job_and_exit HUP INT TERM
  if [[ "$log" == gs://* ]]; then
    # Writes only to the log (never holds the ssh session's output open); stopping it
    # stops its sleep too.
    (
      trap 'kill "$nap" 2>/dev/null; exit 0' TERM
      while kill -0 "$job" 2>/dev/null; do
        sleep "${UPLOAD_EVERY_S:-60}" & nap=$!
        wait "$nap"; upload_log "$local_log" "$log"
      done
    ) >>"$local_log" 2>&1 </dev/null &
    uploader=$!
  fi
  if [ "$worker_id" = 0 ]; then  # worker 0's log is shown live on the launcher's terminal
    tail -c "+$((offset + 1))" -f --pid="$job" "$local_log" &
    tailer=$!
  else
    echo "worker $worker_id: log $log"
  fi
  wait "$job" || rc=$?
  rm -f "$state_dir/job.pid"
  [ -n "$tailer" ] && { wait "$tailer" || true; }
  [ -n "$uploader" ] && { kill "$uploader" 2>/dev/null || true; }
  [[ "$log" == gs://* ]] && upload_log "$local_log" "$log"
  echo "worker $worker_id: exit $rc (log $log)"
  return "$rc"
}


if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  worker_main "$@"
fi
