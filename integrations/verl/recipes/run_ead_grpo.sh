#!/usr/bin/env bash
# EAD-GRPO on MATH (clip 0.2, seq-mean-token-mean, KL loss 0.001, TIS C=2, n=16): bash run_ead_grpo.sh [overrides...]
exec bash "$(dirname "${BASH_SOURCE[0]}")/run_ead.sh" ead_grpo "$@"
