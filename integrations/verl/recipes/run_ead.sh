#!/usr/bin/env bash
# Runs one EAD recipe with verl's PPO trainer: bash run_ead.sh <ead_dapo|ead_grpo|ead_clip_cov|ead_kl_cov> [Hydra overrides...]
#
# Environment: MODEL_PATH (default Qwen/Qwen2.5-Math-1.5B), DATA_DIR (default ~/data/math, made by
# prepare_math.py), NNODES (default 1), GPUS_PER_NODE (default 8). For a multi-node run start a Ray
# cluster first (`ray start --head` on the first node, `ray start --address=<head>:6379` on the others)
# and launch this script on the head node. PYTHON (default python3) is the interpreter with verl. For 7B+ models pass
# actor_rollout_ref.rollout.custom.ead.tau_min=0.8 (the paper's setting).
set -euo pipefail
RECIPE="${1:?usage: run_ead.sh <ead_dapo|ead_grpo|ead_clip_cov|ead_kl_cov> [overrides...]}"
shift
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-$HOME/data/math}"
export MODEL_PATH="${MODEL_PATH:-Qwen/Qwen2.5-Math-1.5B}"
PYTHON="${PYTHON:-python3}"

# `--cfg job|hydra|all` only prints the composed config: no data needed (none is downloaded)
print_only=0
for a in "$@"; do [ "$a" = "--cfg" ] || [ "${a#--cfg=}" != "$a" ] && print_only=1; done
if [ "$print_only" = 0 ] && [ ! -f "$DATA_DIR/train.parquet" ]; then
  "$PYTHON" "$HERE/prepare_math.py" --out "$DATA_DIR"
fi

exec "$PYTHON" -m verl.trainer.main_ppo \
  --config-path "$HERE/../config" --config-name "$RECIPE" \
  data.train_files="$DATA_DIR/train.parquet" \
  data.val_files="$DATA_DIR/test.parquet" \
  trainer.nnodes="${NNODES:-1}" \
  trainer.n_gpus_per_node="${GPUS_PER_NODE:-8}" \
  "$@"
