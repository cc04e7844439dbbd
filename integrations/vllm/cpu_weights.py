"""Keep vLLM's CPU linear layers on their own, live ``weight`` Parameter (for in-place weight sync).

vLLM's CPU build replaces each linear layer's weight at load time
(``vllm.model_executor.layers.utils.dispatch_cpu_unquantized_gemm``): it prepacks the weight for
oneDNN / sgl-kernel, calls the packed copy, and swaps ``layer.weight`` for an empty Parameter
without the ``weight_loader`` that ``model.load_weights`` needs. An RL trainer that pushes new
weights into the running engine (verl's weight sync) then fails with ``'Parameter' object has no
attribute 'weight_loader'``, and even where loading works the prepacked copy would keep the old
weights. :data:`PATCH` makes every CPU linear call ``F.linear`` on the layer's own weight instead:
updates land where the forward reads them (slower GEMMs than oneDNN's; fine for small models).

On only where asked: ``EAD_VLLM_CPU_LIVE_WEIGHTS=1`` (verl's CPU mode sets it for its processes);
ead-ext's vLLM plugin applies it in every vLLM process, before the model loads.
"""
from __future__ import annotations

import functools

import torch

from ..flags import env_flag
from ..patching import Patch

__all__ = ["ENV", "PATCH", "wanted"]

ENV = "EAD_VLLM_CPU_LIVE_WEIGHTS"


def _keep_weight(orig):
    @functools.wraps(orig)
    def dispatch_cpu_unquantized_gemm(layer, remove_weight):
        if getattr(layer, "weight", None) is None or layer.weight.ndim != 2:
            return orig(layer, remove_weight)  # conv / MoE expert weights: vLLM's own handling
        layer.cpu_linear = torch.nn.functional.linear  # called as cpu_linear(x, layer.weight, bias)

    return dispatch_cpu_unquantized_gemm


PATCH = Patch("vllm_cpu_live_weights", "vllm.model_executor.layers.utils", "dispatch_cpu_unquantized_gemm",
              _keep_weight, why="vLLM's CPU build swaps linear weights for prepacked copies, dropping weight_loader")


def wanted() -> bool:
    return env_flag(ENV) is True
