#!/usr/bin/env bash
# Create (or reuse) a Cloud TPU VM, install semcal_jax on every worker, and run one
# command on all workers at once (multi-host: every host must run the same program).
#
# Usage:
#   TPU_NAME=semcal-v5e ZONE=us-west4-a ACCELERATOR=v5litepod-16 PROJECT=my-proj \
#     bash experiments/launch_tpu.sh "python experiments/run_calibration.py \
#       --config=configs/local.py:model=gs://b/models/Qwen2.5-7B,data=triviaqa,n_questions=1000 \
#       --config.data.path=gs://b/data/triviaqa --config.model.dtype=bfloat16 \
#       --workdir=gs://b/semcal/qwen7b-triviaqa --distributed"
#
# Environment: TPU_NAME, ZONE, ACCELERATOR (e.g. v5litepod-16, v4-32), PROJECT,
# RUNTIME (TPU software version, default v2-alpha-tpuv5-lite), REPO_URL (what the
# workers clone; default: this repo's origin), BRANCH (default main),
# SPOT=1 for spot VMs, DRY_RUN=1 to print the gcloud commands instead of running them.
set -euo pipefail

: "${TPU_NAME:?set TPU_NAME}" "${ZONE:?set ZONE}" "${ACCELERATOR:?set ACCELERATOR}"
: "${PROJECT:?set PROJECT}"
RUNTIME="${RUNTIME:-v2-alpha-tpuv5-lite}"
BRANCH="${BRANCH:-main}"
REPO_URL="${REPO_URL:-$(git -C "$(dirname "$0")/.." remote get-url origin 2>/dev/null || echo '')}"
COMMAND="${1:?give the command to run on every worker, in quotes}"

run() {
  if [ "${DRY_RUN:-0}" = "1" ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

gc=(gcloud compute tpus tpu-vm --project="$PROJECT" --zone="$ZONE")

if [ "${DRY_RUN:-0}" = "1" ] || ! "${gc[@]}" describe "$TPU_NAME" >/dev/null 2>&1; then
  extra=()
  [ "${SPOT:-0}" = "1" ] && extra+=(--spot)
  run "${gc[@]}" create "$TPU_NAME" --accelerator-type="$ACCELERATOR" --version="$RUNTIME" \
    "${extra[@]}"
fi

# Install on every worker (idempotent): clone or update the repo, then the pinned
# requirements with JAX for TPU.
if [ -z "$REPO_URL" ]; then
  echo "launch_tpu.sh: set REPO_URL (no git remote 'origin' to clone from)" >&2
  exit 2
fi
install="set -e; if [ -d semcal_jax ]; then git -C semcal_jax fetch -q origin $BRANCH && \
git -C semcal_jax checkout -q FETCH_HEAD; else git clone -q -b $BRANCH $REPO_URL semcal_jax; fi; \
cd semcal_jax && python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt -e . && \
.venv/bin/pip install -q 'jax[tpu]==0.10.2' -f https://storage.googleapis.com/jax-releases/libtpu_releases.html"
run "${gc[@]}" ssh "$TPU_NAME" --worker=all --command="$install"

# The same command on all workers; .venv/bin first on PATH so "python" is ours.
run "${gc[@]}" ssh "$TPU_NAME" --worker=all \
  --command="cd semcal_jax && PATH=\$PWD/.venv/bin:\$PATH $COMMAND"
