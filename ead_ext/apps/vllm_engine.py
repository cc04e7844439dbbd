"""The vLLM engine the CLI commands (``ead-ext eval``, ``ead-ext generate``) sample through."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Iterator, Optional

__all__ = ["make_llm", "quiet_engine"]


@contextlib.contextmanager
def quiet_engine(log: Optional[Path] = None, verbose: bool = False) -> Iterator[None]:
    """Sends vLLM's (and torch's C++) log lines, progress bars and warnings to ``log`` (a temporary
    file by default) instead of the terminal, unless ``verbose``; on an error the log's tail is shown.

    File-descriptor level (``dup2`` of 1 and 2): vLLM's loggers, C++ ``[W...]`` lines and tqdm write
    there directly. Python warnings of vLLM / torch / transformers are filtered for the rest of the run.
    """
    if verbose:
        yield
        return
    for mod in ("vllm", "torch", "transformers"):
        warnings.filterwarnings("ignore", module=mod)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    if log is None:
        log = Path(tempfile.gettempdir()) / f"ead-ext-vllm-{os.getpid()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(log, "ab") as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            try:
                yield
            finally:
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    except BaseException:
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        print(f"{tail}\n(vLLM's log: {log}; --verbose shows it live)", file=sys.stderr)
        raise
    finally:
        for fd in saved:
            os.close(fd)


def make_llm(model: str, *, seed: int, dtype: str, max_model_len: Optional[int] = None, ead: bool = True,
             **extra):
    """A ``vllm.LLM`` in this process, returning behaviour (processed) log-probs.

    ``ead``: install the EAD sampler first (idempotent; the entry point does it in spawned vLLM
    processes). Chunked prefill is off: vLLM 0.32's V1 runner crashes on the CPU ("CPU Generator
    does not use offset", gpu_model_runner._bookkeeping_sync) when a seeded request's prompt is
    split across steps; without chunking a prompt is scheduled whole. ``extra`` keyword arguments
    go to ``vllm.LLM`` last, so they override any of these.
    """
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import vllm

    from ead_ext.integrations import vllm as ead_vllm

    kwargs = dict(model=model, dtype=dtype, enforce_eager=True, seed=seed, enable_chunked_prefill=False,
                  **ead_vllm.ENGINE_KWARGS)
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    if ead:
        ead_vllm.install()
    kwargs.update(extra)
    return vllm.LLM(**kwargs)
