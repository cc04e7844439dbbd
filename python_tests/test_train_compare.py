"""`ead-ext train --compare`: two quick runs on one shared Ray cluster, then the same command resumed.

The runs are verl's real trainer (V1, 2 steps of 2 prompts x 4 each, ~2.5 min). Checked from
outside: both runs joined the one Ray head the comparison started (their command lines carry its
address), each run's own variables reached its Ray workers (each run's verl file log, which verl's
TaskRunner writes from ``VERL_FILE_LOGGER_PATH``, is in its own directory), nothing of the cluster is
left running afterwards, and a second invocation keeps both finished runs instead of training again.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("verl")
pytest.importorskip("vllm")
pytest.importorskip("transfer_queue")


def _ray_processes() -> set:
    """Live raylet / GCS processes (a zombie has ended; it only waits for its parent to reap it)."""
    out = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True).stdout
    return {ln.split()[0] for ln in out.splitlines()
            if len(ln.split()) > 2 and not ln.split()[1].startswith("Z") and re.search(r"raylet|gcs_server", ln)}


ADDRESS_FILE = "/tmp/ray/ray_current_cluster"  # where a bare ray.init() looks for a cluster to join


def _address_file():
    return open(ADDRESS_FILE).read() if os.path.exists(ADDRESS_FILE) else None


def _compare(out):
    exe = shutil.which("ead-ext", path=os.path.dirname(sys.executable)) or shutil.which("ead-ext")
    cmd = [exe, "train", "--compare", "--quick", "--methods", "ead", "tau=1.0", "--out", str(out), "--no-plot",
           "--timeout", "900"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=2400)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    before, address_file = _ray_processes(), _address_file()
    first = _compare(out)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    left = _ray_processes() - before
    again = _compare(out)
    return {"dir": out / "compare-arithmetic", "first": first, "again": again, "left": left,
            "address_file": (address_file, _address_file())}


def test_the_runs_shared_one_ray_cluster(compared):
    assert "== one Ray cluster for the 2 runs to train: 127.0.0.1:" in compared["first"].stdout
    address = compared["first"].stdout.split("runs to train: ")[1].split()[0]
    for run in ("ead", "tau1"):
        d = compared["dir"] / run
        command = json.loads((d / "command.json").read_text())
        assert command["ray_cluster"] == address
        assert f"+ray_kwargs.ray_init.address={address}" in command["command"]
        assert not any(a.startswith(("ray_kwargs.ray_init.num_cpus=", "+ray_kwargs.ray_init.num_gpus="))
                       for a in command["command"])  # a joining run sizes no cluster of its own
        # the per-run variable reached this run's workers: verl's file log (written by the TaskRunner,
        # a worker of the shared cluster) is in this run's directory, with both steps
        steps = {json.loads(line)["step"] for line in (d / "verl_log.jsonl").read_text().splitlines()}
        assert {1, 2} <= steps, steps
        assert (d / "record.json").stat().st_size > 0
    assert compared["left"] == set(), f"the shared cluster's processes were left running: {compared['left']}"
    # the shared head did not advertise itself to the machine's other Ray programs (nor left a stale address)
    was, now = compared["address_file"]
    assert now == was, (was, now)


def test_a_finished_comparison_is_kept_when_run_again(compared):
    again = compared["again"]
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("kept (finished earlier with the same spec") == 2
    assert "one Ray cluster" not in again.stdout  # nothing left to train: no cluster started
