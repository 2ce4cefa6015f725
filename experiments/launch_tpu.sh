#!/usr/bin/env bash
# Create (or reuse) a Cloud TPU VM, install semcal_jax on every worker, and run one
# command on all workers at once (multi-host: every host must run the same program).
#
# Usage:
#   TPU_NAME=semcal ZONE=us-west4-a ACCELERATOR=v5litepod-16 PROJECT=my-proj \
#   REPO_URL=https://github.com/you/semcal_jax.git \
#     bash experiments/launch_tpu.sh [--dry-run] "python experiments/run_calibration.py \
#       --config=configs/local.py:model=gs://b/models/Qwen2.5-7B,data=triviaqa \
#       --config.data.path=gs://b/data/triviaqa --workdir=gs://b/semcal/qwen7b-triviaqa"
#
# Steps, each safe to repeat (the same line again resumes a killed or preempted job):
#   1. the planner, locally: a config that does not fit the slice stops here;
#   2. the VM: reused, created, re-created after preemption, or started;
#   3. install on every worker, only what is missing: the repo, uv, a uv-managed Python
#      3.11 (TPU VM images ship 3.10), a .venv with requirements.txt, -e . and jax[tpu];
#   4. the command on all workers (--distributed appended on multi-host slices), each
#      logging to <workdir>/logs/worker-<i>.log; RETRIES=N relaunches after a failure.
#
# Environment:
#   TPU_NAME, ZONE, PROJECT   the TPU VM and where it lives (required)
#   ACCELERATOR               gcloud accelerator type: v5litepod-N, v4-N, v5p-N, v6e-N (required)
#   SLICE                     the planner's slice name (default derived: v5litepod-16 -> v5e-16)
#   RUNTIME                   TPU software version (default per family, see runtime_for)
#   REPO_URL, BRANCH          what the workers clone (default: this repo's origin; main)
#   SPOT=1                    create a spot VM
#   RETRIES=N                 relaunches after a failed run (default 0)
#   RETRY_DELAY_S             seconds between relaunches (default 60)
#   MULTIHOST=0               do not append --distributed (commands whose hosts work apart)
#   PLAN=0                    skip the planner; PYTHON: the interpreter that runs it
#   UPLOAD_EVERY_S            how often a worker copies its log to a gs:// workdir (default 60)
#   DRY_RUN=1 or --dry-run    print every command instead of running it; exit 0
#
# On each worker the ssh command runs experiments/tpu_worker.sh (the worker side).
set -euo pipefail

PROG="launch_tpu.sh"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIBTPU_LINKS="https://storage.googleapis.com/jax-releases/libtpu_releases.html"
PYTHON_VERSION="3.11"            # pyproject.toml: requires-python >= 3.11

die() { echo "$PROG: $*" >&2; exit 2; }

# job_script, log_path, local_log_path: what each worker runs, shared with the dry run.
# shellcheck source=experiments/tpu_worker.sh
source "$REPO_DIR/experiments/tpu_worker.sh"

# Quotes one word for a POSIX shell, only when it needs it.
shquote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# Prints a command line, one quoted word after another.
show() {
  local out="+" word
  for word in "$@"; do out+=" $(shquote "$word")"; done
  printf '%s\n' "$out"
}

# ---------------------------------------------------------------------------------------
# Slices. ACCELERATOR -> the planner's slice name and the number of hosts (workers):
#
#   ACCELERATOR        slice      hosts   chips per host
#   v5litepod-1/4/8    v5e-N      1       N
#   v5litepod-N, N>=16 v5e-N      N/4     4       (v5litepod-16: 4 hosts)
#   v6e-1/4/8          v6e-N      1       N
#   v6e-N, N>=16       v6e-N      N/4     4
#   v4-N, v5p-N        same name  N/8     4       (N counts TensorCores, 2 per chip:
#                                                  v4-32: 4 hosts, v5p-64: 8 hosts)
# ---------------------------------------------------------------------------------------
slice_hosts() {  # ACCELERATOR -> "SLICE HOSTS", or nothing when unknown
  local acc="$1" family n
  family="${acc%-*}"; n="${acc##*-}"
  [[ "$acc" == *-* && "$n" =~ ^[1-9][0-9]*$ ]] || return 0
  case "$family" in
    v5litepod|v6e)
      local name="v5e-$n"; [ "$family" = v6e ] && name="v6e-$n"
      case "$n" in
        1|4|8) echo "$name 1" ;;
        16|32|64|128|256) echo "$name $((n / 4))" ;;
      esac ;;
    v4|v5p)
      (( n % 8 == 0 )) && echo "$acc $((n / 8))" ;;
  esac
  return 0
}

runtime_for() {  # ACCELERATOR -> the TPU VM software version
  case "$1" in
    v5litepod-*) echo "v2-alpha-tpuv5-lite" ;;
    v5p-*) echo "v2-alpha-tpuv5" ;;
    v6e-*) echo "v2-alpha-tpuv6e" ;;
    v4-*) echo "tpu-ubuntu2204-base" ;;
  esac
}

# The value of --NAME=V (or --NAME V) in a command line, quotes stripped.
flag_value() {
  local name="$1" cmd="$2" hit
  hit="$(grep -oE -- "--$name(=|[[:space:]]+)[^[:space:]]+" <<<"$cmd" | head -n 1 || true)"
  hit="${hit#--"$name"}"; hit="${hit#=}"; hit="${hit#"${hit%%[![:space:]]*}"}"
  hit="${hit#[\"\']}"; hit="${hit%[\"\']}"
  printf '%s' "$hit"
}

# The install step, one line run on every worker; each part is skipped when already done.
install_script() {  # JAX_VERSION
  local uv='$HOME/.local/bin/uv' repo="git -C semcal_jax" pip="python3 -m pip install -q --user"
  local venv_py='$(.venv/bin/python -c "import sys; print(*sys.version_info[:2], sep=chr(46))"'
  venv_py+=' 2>/dev/null)'
  local stamp='$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)'"-jax$1"
  local steps=(
    "set -e"
    "if [ -d semcal_jax/.git ]; then $repo fetch -q origin $BRANCH && $repo checkout -q -f FETCH_HEAD;
     else git clone -q -b $BRANCH $REPO_URL semcal_jax; fi"
    "cd semcal_jax"
    # uv from PyPI (pip refuses --user installs on images that mark Python as
    # system-managed, hence the second form).
    "[ -x $uv ] || $pip uv || $pip --break-system-packages uv"
    # Python 3.11: uv downloads its managed CPython build (from GitHub) once.
    "$uv python find $PYTHON_VERSION >/dev/null 2>&1 || $uv python install $PYTHON_VERSION"
    "[ \"$venv_py\" = $PYTHON_VERSION ] ||
     $uv venv -q --allow-existing --python $PYTHON_VERSION .venv"
    "stamp=$stamp"
    "[ \"\$(cat .venv/semcal-installed 2>/dev/null)\" = \"\$stamp\" ] ||
     { $uv pip install -q --python .venv/bin/python -r requirements.txt -e . 'jax[tpu]==$1'
       -f $LIBTPU_LINKS && echo \"\$stamp\" >.venv/semcal-installed; }"
  )
  local joined
  joined="$(printf '%s; ' "${steps[@]}")"
  joined="${joined//$'\n'/ }"
  printf '%s' "${joined%; }" | tr -s ' '
}

# Runs a command, or prints it under --dry-run.
run() { if [ "$DRY" = 1 ]; then show "$@"; else "$@"; fi; }

note() { if [ "$DRY" = 1 ]; then echo "# $*"; else echo "$PROG: $*" >&2; fi; }

# The planner on the command's config, with the command's --config.KEY=VALUE overrides.
plan() {  # COMMAND
  local config overrides
  config="$(flag_value config "$1")"
  if [ "${PLAN:-1}" = 0 ]; then note "planner skipped (PLAN=0)"; return 0; fi
  if [ -z "$config" ]; then note "no --config= in the command: planner skipped"; return 0; fi
  local python="${PYTHON:-}" rc=0
  if [ -z "$python" ]; then
    python=python3; [ ! -x "$REPO_DIR/.venv/bin/python" ] || python=.venv/bin/python
  fi
  local cmd=("$python" experiments/plan_tpu.py "--config=$config")
  mapfile -t overrides < <(grep -oE -- '--config\.[A-Za-z0-9_.]+=[^[:space:]]+' <<<"$1" || true)
  cmd+=("${overrides[@]}" "--slice=$SLICE")
  if [ "$DRY" = 1 ]; then
    printf '+ cd %s && %s\n' "$(shquote "$REPO_DIR")" "$(show "${cmd[@]}" | cut -c3-)"
    return 0
  fi
  (cd "$REPO_DIR" && "${cmd[@]}") || rc=$?
  [ "$rc" = 0 ] || { echo "$PROG: stopped: the planner rejected --config=$config on $SLICE" >&2
                     exit "$rc"; }
}

# Makes the VM exist and be READY: reuse, create, re-create after preemption, or start.
ensure_vm() {
  local where=(--project="$PROJECT" --zone="$ZONE")
  local base=(gcloud compute tpus tpu-vm)
  local describe=("${base[@]}" describe "$TPU_NAME" "${where[@]}" --format='value(state)')
  local create=("${base[@]}" create "$TPU_NAME" "${where[@]}" --accelerator-type="$ACCELERATOR"
                --version="$RUNTIME")
  [ "${SPOT:-0}" = 1 ] && create+=(--spot)
  if [ "$DRY" = 1 ]; then
    show "${describe[@]}"
    echo "# no such VM: create it; PREEMPTED or TERMINATED: delete it, then create;" \
      "STOPPED: start; READY: reuse"
    show "${create[@]}"
    return 0
  fi
  local state polls=0
  while :; do
    state="$("${describe[@]}" 2>/dev/null || true)"
    case "$state" in
      READY) return 0 ;;
      "") note "creating $TPU_NAME ($ACCELERATOR, $RUNTIME)"; "${create[@]}" ;;
      PREEMPTED|TERMINATED)
        note "$TPU_NAME is $state: deleting and re-creating it"
        "${base[@]}" delete "$TPU_NAME" "${where[@]}" --quiet; "${create[@]}" ;;
      STOPPED) note "starting $TPU_NAME"; "${base[@]}" start "$TPU_NAME" "${where[@]}" ;;
      CREATING|STARTING|RESTARTING|REPAIRING|STOPPING|DELETING) sleep 30 ;;
      *) echo "$PROG: TPU VM $TPU_NAME is in state $state; resolve it by hand" >&2; exit 1 ;;
    esac
    polls=$((polls + 1))
    (( polls < 120 )) || { echo "$PROG: $TPU_NAME not READY after 120 polls (state $state)" >&2
                           exit 1; }
  done
}

ssh_all() {  # REMOTE_COMMAND
  run gcloud compute tpus tpu-vm ssh "$TPU_NAME" --project="$PROJECT" --zone="$ZONE" --worker=all \
    --command="$1"
}

run_all() {
  local remote i log
  remote="cd semcal_jax && bash experiments/tpu_worker.sh --num-workers=$HOSTS"
  remote+=" $(shquote "--log-dir=$LOG_DIR") -- $(shquote "$COMMAND")"
  ssh_all "$remote" || return $?
  [ "$DRY" = 1 ] || return 0
  echo "# each worker i (agent-worker-number in the TPU metadata) then runs, in its own" \
    "process group:"
  for ((i = 0; i < HOSTS; i++)); do
    log="$(log_path "$LOG_DIR" "$i")"
    if [[ "$log" == gs://* ]]; then
      printf '+ [worker %s] %s >>%s 2>&1  # copied to %s every %ss and at exit\n' "$i" \
        "$(job_script "$i" "$HOSTS" "$COMMAND")" "$(local_log_path "$log")" "$log" \
        "${UPLOAD_EVERY_S:-60}"
    else
      printf '+ [worker %s] %s >>%s 2>&1\n' "$i" "$(job_script "$i" "$HOSTS" "$COMMAND")" "$log"
    fi
  done
}

main() {
  DRY="${DRY_RUN:-0}"
  COMMAND=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY=1 ;;
      -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d;s/^# \{0,1\}//'
                 return 0 ;;
      --) shift; [ $# -le 1 ] || die "give the command as one argument, in quotes"
          COMMAND="${1:-}"; break ;;
      -*) die "unknown option $1 (options: --dry-run)" ;;
      *) [ -z "$COMMAND" ] || die "give the command as one argument, in quotes"; COMMAND="$1" ;;
    esac
    shift
  done
  COMMAND="${COMMAND//\\$'\n'/ }"  # line continuations kept by single quotes
  [ -n "${COMMAND// /}" ] || die "give the command to run on every worker, in quotes"
  local var
  for var in TPU_NAME ZONE PROJECT ACCELERATOR; do
    [ -n "${!var:-}" ] || die "set $var (see the top of experiments/launch_tpu.sh)"
  done
  local derived
  derived="$(slice_hosts "$ACCELERATOR")"
  [ -n "$derived" ] ||
    die "unknown ACCELERATOR=$ACCELERATOR (expected v5litepod-N, v6e-N, v4-N or v5p-N)"
  HOSTS="${derived#* }"
  SLICE="${SLICE:-${derived% *}}"
  RUNTIME="${RUNTIME:-$(runtime_for "$ACCELERATOR")}"
  BRANCH="${BRANCH:-main}"
  REPO_URL="${REPO_URL:-$(git -C "$REPO_DIR" remote get-url origin 2>/dev/null || true)}"
  [ -n "$REPO_URL" ] || die "set REPO_URL (no git remote 'origin' to clone from)"
  local retries="${RETRIES:-0}" delay="${RETRY_DELAY_S:-60}"
  [[ "$retries" =~ ^[0-9]+$ ]] || die "RETRIES=$retries: expected a whole number"
  [[ "$delay" =~ ^[0-9]+$ ]] || die "RETRY_DELAY_S=$delay: expected a whole number of seconds"
  local workdir jax_version
  workdir="$(flag_value workdir "$COMMAND")"
  [ -n "$workdir" ] || die "the command has no --workdir=DIR (each worker logs to DIR/logs)"
  LOG_DIR="${workdir%/}/logs"
  jax_version="$(sed -n 's/^jax==//p' "$REPO_DIR/requirements.txt")"
  [ -n "$jax_version" ] || die "$REPO_DIR/requirements.txt: no jax==VERSION line"
  if (( HOSTS > 1 )) && [ "${MULTIHOST:-1}" != 0 ] && \
      ! grep -qE -- '--(distributed|coordinator)' <<<"$COMMAND"; then
    COMMAND+=" --distributed"
  fi

  [ "$DRY" = 0 ] || echo "# $TPU_NAME: ACCELERATOR=$ACCELERATOR, slice $SLICE, $HOSTS hosts," \
    "runtime $RUNTIME, logs in $LOG_DIR"
  plan "$COMMAND"
  local attempt=0 rc
  while :; do
    ensure_vm  # a gcloud error here (quota, capacity) ends the launch
    rc=0; ssh_all "$(install_script "$jax_version")" || rc=$?
    [ "$rc" != 0 ] || run_all || rc=$?
    if [ "$DRY" = 1 ]; then
      echo "# an install or a worker exiting non-zero: the VM, install and run steps again," \
        "up to RETRIES=$retries times"
      return 0
    fi
    [ "$rc" != 0 ] || return 0
    if (( attempt >= retries )); then
      echo "$PROG: a worker exited with status $rc; logs in $LOG_DIR" >&2
      return "$rc"
    fi
    attempt=$((attempt + 1))
    note "exit status $rc: relaunching on all workers ($attempt of $retries) in ${delay}s"
    sleep "$delay"
  done
}

main "$@"
