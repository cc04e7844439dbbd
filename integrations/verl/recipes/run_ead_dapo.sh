#!/usr/bin/env bash
# EAD-DAPO on MATH (clip-higher 0.2/0.28, token-mean, TIS C=2, n=16): bash run_ead_dapo.sh [Hydra overrides...]
exec bash "$(dirname "${BASH_SOURCE[0]}")/run_ead.sh" ead_dapo "$@"
