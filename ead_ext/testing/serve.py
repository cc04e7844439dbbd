"""`ead-ext serve` as a subprocess on 127.0.0.1 (tests and bench/serve_load.py): start, wait until
healthy, stop; and the completion call both use."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from ead_ext.testing import free_port

PROMPT = [5, 17, 99, 230, 41]


class ServerFailed(RuntimeError):
    pass


@contextlib.contextmanager
def ead_serve(model: str, log: Path, *vllm_args: str, timeout_s: float = 480, env_changes=None):
    """Runs ``ead-ext serve --model MODEL`` (multiprocessing on: front end and engine core are
    separate processes, as in production) with the tiny model's sizes and ``vllm_args``; yields
    dict(url, log, proc). The command's own defaults (logprobs mode, CPU KV-cache space) serve."""
    port = free_port()
    env = dict(os.environ, VLLM_ENABLE_V1_MULTIPROCESSING="1", VLLM_LOGGING_LEVEL="INFO")
    for name in ("EAD_VLLM_DISABLE", "VLLM_CPU_KVCACHE_SPACE"):
        env.pop(name, None)
    env.update(env_changes or {})
    cmd = [sys.executable, "-m", "ead_ext", "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port),
           "--dtype", "float32", "--enforce-eager", "--served-model-name", "tiny", "--seed", "0", *vllm_args]
    with open(log, "w") as fh:
        # cwd outside the source tree: `python -m` puts the cwd on sys.path, and a stale
        # ead_ext.egg-info in a checkout's root would hide the installed entry points.
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=str(Path(log).parent))
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    try:
        while True:
            if proc.poll() is not None:
                raise ServerFailed(f"ead-ext serve exited with {proc.returncode}:\n{Path(log).read_text()[-4000:]}")
            if healthy(url):
                break
            if time.time() > deadline:
                raise ServerFailed(f"ead-ext serve did not come up in time:\n{Path(log).read_text()[-4000:]}")
            time.sleep(1.0)
        yield dict(url=url, log=Path(log), proc=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def healthy(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def complete(url: str, session=None, prompt=PROMPT, **body) -> requests.Response:
    payload = {**dict(model="tiny", prompt=list(prompt), max_tokens=16, logprobs=0, ignore_eos=True,
                      return_tokens_as_token_ids=True), **body}
    return (session or requests).post(url + "/v1/completions", json=payload, timeout=300)


def ids_and_logprobs(resp) -> list:
    """[(token ids, token log-probs)] per choice of a completion response."""
    out = []
    for ch in sorted(resp.json()["choices"], key=lambda c: c["index"]):
        lp = ch["logprobs"]
        out.append(([int(t.split(":", 1)[1]) for t in lp["tokens"]], lp["token_logprobs"]))
    return out


def metric(url: str, name: str) -> float:
    """Sum of a Prometheus counter (exported as NAME_total) over its label sets, from /metrics."""
    text = requests.get(url + "/metrics", timeout=10).text
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
               if ln.split("{")[0].split(" ")[0] in (name, name + "_total"))
