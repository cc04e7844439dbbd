"""Where a result came from: the command, the code's commit, the versions of what ran it. Stored in
every result file (``ead-ext eval``'s ``results.json``, ``docs/results/``) so that a reader can tell
which code and stack a number belongs to."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["provenance"]


def _commit() -> str:
    """The git commit of the source tree ead_ext was imported from ("+dirty" with local changes);
    "unknown" outside a checkout (an installed wheel)."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except Exception:  # noqa: BLE001 - absent or broken: say so instead of failing the run
        return "absent"
    return str(getattr(mod, "__version__", "unknown"))


def provenance(argv=None, also=()) -> dict:
    """``{"command", "commit", "versions"}``; ``also``: more modules whose versions to name (e.g. verl)."""
    import ead_ext

    versions = {"ead_ext": ead_ext.__version__, "torch": _version("torch"), "vllm": _version("vllm")}
    versions.update({m: _version(m) for m in also})
    return {"command": " ".join(["ead-ext"] + list(sys.argv[1:] if argv is None else argv)),
            "commit": _commit(), "versions": {**versions, "python": sys.version.split()[0]}}
