"""`ead-ext train` end to end: verl's real trainer (default V1 and legacy), 2 GRPO steps on the tiny model.

Each trainer runs once (``--quick``: 2 steps x 2 prompts x n = 4, held-out 8 prompts x 4 before
training and after step 2) with ``EAD_VLLM_TRACE`` on, so the vLLM side records what it sampled
(ead_ext.integrations.vllm.trace). The tests then check, from outside the run:

- the EAD rows reached vLLM with the step's decay (each traced row's ``extra_args`` step and d_s);
- the rollout log-probs are the annealed ones: for rows of step 1 (the shipped weights, before any
  update) ``log softmax(logits / tau_t)[token]`` recomputed with transformers (over the tokenizer's
  entries: verl masks the head's tail) equals the log-prob vLLM returned, and differs from the
  tau = 1 log-prob where tau_t is far from 1;
- the TIS weights reached the loss (``actor/ead/*`` metrics of the EAD loss, capped at C);
- the reward, metrics, held-out and plot files are written, with the logged temperature metrics.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("verl")
pytest.importorskip("vllm")
pytest.importorskip("transfer_queue")
torch = pytest.importorskip("torch")

from ead_ext.tasks import SCHEDULES  # noqa: E402


# both verl trainers, each on one of the embedded tasks (a third run would add ~5 min to CI)
@pytest.fixture(scope="module", params=[("v1", "arithmetic"), ("legacy", "countdown")], ids=lambda p: "-".join(p))
def run(request, tmp_path_factory):
    trainer, task = request.param
    out = tmp_path_factory.mktemp(f"train-{trainer}")
    exe = shutil.which("ead-ext", path=os.path.dirname(sys.executable)) or shutil.which("ead-ext")
    cmd = [exe, "train", "--quick", "--trainer", trainer, "--task", task, "--out", str(out), "--name", "run",
           "--timeout", "1200"]
    env = dict(os.environ, EAD_VLLM_TRACE=str(out / "trace"))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    run_dir = out / "run"
    log = (run_dir / "verl.log").read_text(errors="replace")[-6000:] if (run_dir / "verl.log").exists() else ""
    assert r.returncode == 0, f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n--- verl.log tail ---\n{log}"
    trace = [json.loads(line) for f in sorted((out / "trace").glob("*.jsonl")) for line in f.read_text().splitlines()]
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {"dir": run_dir, "stdout": r.stdout, "trace": trace, "steps": {s["step"]: s for s in steps},
            "task": task, "schedule": SCHEDULES[task]}


def test_files_and_progress(run):
    d = run["dir"]
    for name in ("metrics.jsonl", "heldout.json", "summary.json", "train.png", "command.json", "verl.log"):
        assert (d / name).stat().st_size > 0, name
    assert {1, 2} <= set(run["steps"])
    assert "step 2/2" in run["stdout"] and "held-out at step 2" in run["stdout"]
    held = json.loads((d / "heldout.json").read_text())
    assert [h["step"] for h in held] == [0, 2]
    for h in held:
        assert h["prompts"] == 8 and h["n"] == 4
        assert 0.0 <= h["summary"]["pass@1"]["mean"] <= h["summary"]["pass@4"]["mean"] <= 1.0
        assert h["summary"]["worst@4"]["mean"] <= h["summary"]["pass@1"]["mean"]


def test_reward_and_temperature_metrics(run):
    TINY_SCHEDULE = run["schedule"]
    for s in (1, 2):
        m = run["steps"][s]
        assert 0.0 <= m["critic/score/mean"] <= 1.0
        assert m["ead/temperature/decay"] == TINY_SCHEDULE.at_step(s)
        taus = TINY_SCHEDULE.temperature(list(range(96)), step=s).double()
        assert m["ead/temperature/mean"] == pytest.approx(float(taus.mean()), rel=1e-9)
    assert 0.0 <= run["steps"][2]["heldout/pass@1"] <= 1.0  # held-out metrics merged at their step


def test_ead_rows_reached_vllm_with_the_step_decay(run):
    trace, TINY_SCHEDULE = run["trace"], run["schedule"]
    assert trace, "no EAD row reached the vLLM sampler"
    assert {r["step"] for r in trace} <= {1, 2} and 1 in {r["step"] for r in trace}  # validation is not annealed
    for r in trace:
        assert r["schedule"] == TINY_SCHEDULE.to_dict()
        assert r["decay"] == TINY_SCHEDULE.at_step(r["step"])
        assert r["tau"] == pytest.approx(float(TINY_SCHEDULE.temperature([r["position"]], step=r["step"])[0]), abs=1e-6)


def test_rollout_logprobs_are_the_annealed_ones(run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = [r for r in run["trace"] if r["step"] == 1 and abs(r["tau"] - 1.0) > 0.05]
    assert len(rows) >= 64  # the trace holds the first rows sampled: early positions, tau 1.1-1.2 (cutoff 0)
    model = AutoModelForCausalLM.from_pretrained(run["dir"] / "model", dtype=torch.float32).eval()
    # verl's rollout masks the head's entries past the tokenizer (monkey_patch_compute_logits in
    # verl/workers/rollout/vllm_rollout/utils.py: logits[..., len(tokenizer):] = -inf) before vLLM
    # samples; the tiny model's head has 128 entries for its 101 tokens
    n_tokens = len(AutoTokenizer.from_pretrained(run["dir"] / "model"))
    assert n_tokens < model.config.vocab_size
    err_tau, err_raw = [], []
    with torch.no_grad():
        for r in rows:  # every traced row: the tiny model is sure of most tokens, where tau changes little
            ids = torch.tensor([r["prompt_ids"] + r["output_ids"]])
            logits = model(ids).logits[0, -1].double()
            logits[n_tokens:] = -torch.inf
            err_tau.append(abs(torch.log_softmax(logits / r["tau"], -1)[r["token"]].item() - r["logprob"]))
            err_raw.append(abs(torch.log_softmax(logits, -1)[r["token"]].item() - r["logprob"]))
    worst = max(err_tau)
    assert worst < 1e-4, f"behaviour log-probs differ from log softmax(logits/tau_t) by up to {worst}"
    # the traced log-probs are not the tau = 1 ones: some miss those by far more than they miss the annealed ones
    far = sum(e > max(10 * worst, 1e-4) for e in err_raw)
    assert far > 0, f"no traced token told the annealed log-prob from the tau = 1 one (largest gap {max(err_raw)})"


def test_tis_weights_reached_the_loss(run):
    for s in (1, 2):
        m = run["steps"][s]
        mean, mx, frac = (m["actor/ead/tis_weight_mean"], m["actor/ead/tis_weight_max"],
                          m["actor/ead/tis_truncated_frac"])
        assert 0.0 < mean <= mx <= 2.0 + 1e-6 and 0.0 <= frac <= 1.0  # C = 2 (the default --tis-cap)
        assert m["rollout_corr/rollout_is_mean"] == pytest.approx(mean, rel=1e-3)  # verl's weights, applied once


def _ray_processes() -> set:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server|ray::"], capture_output=True, text=True).stdout
    return set(out.split())


def test_a_run_past_its_time_limit_ends_its_cluster_and_fails(tmp_path):
    """--timeout: the run is stopped while verl's Ray cluster is up; nothing of it is left running."""
    import time

    exe = shutil.which("ead-ext", path=os.path.dirname(sys.executable)) or shutil.which("ead-ext")
    before = _ray_processes()
    t0 = time.monotonic()
    r = subprocess.run([exe, "train", "--quick", "--out", str(tmp_path), "--name", "late", "--timeout", "45"],
                       capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    assert r.returncode == 1 and "did not finish within 45 s" in r.stderr, r.stderr[-2000:]
    assert took < 45 + 60  # stop + the process group's grace period
    time.sleep(2)
    assert _ray_processes() - before == set()
