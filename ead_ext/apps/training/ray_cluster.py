"""One local Ray cluster for all runs of an ``ead-ext train --compare``.

Each run is still its own verl job (``python -m verl.trainer.main_ppo``: its driver, TaskRunner,
FSDP workers and vLLM servers start and end with it); what the runs share is Ray's head (GCS,
raylet, object store), which a lone run starts and stops itself (~12 s of its ~110 s of start-up
on 2 cores, measured). The runs join it through ``ray_kwargs.ray_init.address``; the variables that
differ per run (verl's file-logger path, the run marker that :func:`run.launch` ends a run's
processes by) reach that run's Ray workers through its job's ``runtime_env`` (workers of a running
cluster inherit the raylet's environment, not the driver's). The head carries a marker of its own
and is ended by it, with everything still attached, when the comparison ends.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

from .run import RUN_MARKER, marked_processes, processes_where

__all__ = ["SharedRay", "PER_RUN_ENV"]

#: what launch() sets per run and each run's Ray workers must see
PER_RUN_ENV = ("VERL_FILE_LOGGER_PATH", RUN_MARKER)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SharedRay:
    """``ray start --head`` with ``num_cpus`` logical CPUs and ``num_gpus`` (logical in CPU mode;
    None: Ray counts the machine's)."""

    def __init__(self, env: Dict[str, str], num_cpus: Optional[int] = None, num_gpus: Optional[int] = None):
        self.env = {k: v for k, v in env.items() if k not in PER_RUN_ENV}
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self.marker = f"cluster-{os.getpid()}-{time.time_ns()}"
        self.address: Optional[str] = None
        self.driver_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.temp_dir: Optional[str] = None

    def start(self) -> str:
        ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
        if ray is None:
            raise FileNotFoundError("the 'ray' command (Ray's CLI) is not installed beside this Python")
        port = _free_port()
        self.temp_dir = tempfile.mkdtemp(prefix="ead-ray-", dir="/tmp")  # short: Ray's socket paths have a limit
        env = {**self.env, **self.driver_env, RUN_MARKER: self.marker}
        cmd = [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", f"--temp-dir={self.temp_dir}",
               "--include-dashboard=false", "--disable-usage-stats"]
        cmd += [f"--num-cpus={self.num_cpus}"] if self.num_cpus is not None else []
        cmd += [f"--num-gpus={self.num_gpus}"] if self.num_gpus is not None else []
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start failed ({r.returncode}): {(r.stderr or r.stdout)[-1500:]}")
        self.address = f"127.0.0.1:{port}"
        return self.address

    def overrides(self, run_env: Dict[str, str]) -> List[str]:
        """verl's Hydra overrides that make one run join this cluster, with its per-run variables."""
        if self.address is None:
            raise RuntimeError("the shared Ray cluster is not started")
        o = [f"+ray_kwargs.ray_init.address={self.address}"]
        # quoted: Ray wants strings, and Hydra would read an unquoted marker such as 12-34 as it likes
        o += [f"+ray_kwargs.ray_init.runtime_env.env_vars.{k}='{run_env[k]}'" for k in PER_RUN_ENV if k in run_env]
        return o

    def _processes(self) -> List[int]:
        """The head's live processes: its marker in their environment, or its directory in their
        command line (every process of the cluster names its session directory there)."""
        found = set(marked_processes(self.marker))
        if self.temp_dir:
            needle = self.temp_dir.encode()
            found.update(processes_where("cmdline", lambda cmdline: needle in cmdline))
        return sorted(found)

    def stop(self, grace_s: float = 10.0) -> None:
        """Ends the head and whatever is still attached to it."""
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            pids = self._processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self._processes():
                time.sleep(0.2)
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None
        self.address = None

    def __enter__(self) -> "SharedRay":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
