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

from ead_ext.apps.tasks import SCHEDULES  # noqa: E402


# both verl trainers, each on one of the embedded tasks, and the default trainer with two ranks (FSDP
# over gloo, one vLLM server per rank: the multi-rank path); each run ~2.5 min on 2 cores
@pytest.fixture(scope="module", params=[("v1", "arithmetic", 1), ("legacy", "countdown", 1), ("v1", "countdown", 2)],
                ids=lambda p: f"{p[0]}-{p[1]}" + (f"-{p[2]}ranks" if p[2] > 1 else ""))
def run(request, tmp_path_factory):
    trainer, task, ranks = request.param
    out = tmp_path_factory.mktemp(f"train-{trainer}")
    exe = shutil.which("ead-ext", path=os.path.dirname(sys.executable)) or shutil.which("ead-ext")
    cmd = [exe, "train", "--quick", "--trainer", trainer, "--task", task, "--out", str(out), "--name", "run",
           "--timeout", "1200", "--ranks", str(ranks)]
    env = dict(os.environ, EAD_VLLM_TRACE=str(out / "trace"), EAD_VERL_BATCH_TRACE=str(out / "batch"))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    run_dir = out / "run"
    log = (run_dir / "verl.log").read_text(errors="replace")[-6000:] if (run_dir / "verl.log").exists() else ""
    assert r.returncode == 0, f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n--- verl.log tail ---\n{log}"
    trace = [json.loads(line) for f in sorted((out / "trace").glob("*.jsonl")) for line in f.read_text().splitlines()]
    batch = [json.loads(line) for f in sorted((out / "batch").glob("*.jsonl")) for line in f.read_text().splitlines()]
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    # the model the run trained from (the shipped one: its tokenizer carries the chat template)
    command = json.loads((run_dir / "command.json").read_text())["command"]
    model = next(a.split("=", 1)[1] for a in command if a.startswith("actor_rollout_ref.model.path="))
    return {"dir": run_dir, "trainer": trainer, "ranks": ranks, "log": (run_dir / "verl.log").read_text(errors="replace"),
            "trace_files": sorted((out / "trace").glob("*.jsonl")),
            "stdout": r.stdout, "trace": trace, "batch": batch, "steps": {s["step"]: s for s in steps},
            "task": task, "schedule": SCHEDULES[task], "model": model}


def test_files_and_progress(run):
    d = run["dir"]
    for name in ("metrics.jsonl", "heldout.json", "summary.json", "record.json", "train.png", "command.json",
                 "verl.log"):
        assert (d / name).stat().st_size > 0, name
    assert {1, 2} <= set(run["steps"])
    assert "step 2/2" in run["stdout"] and "held-out at step 2" in run["stdout"]
    held = json.loads((d / "heldout.json").read_text())
    assert [h["step"] for h in held] == [0, 2]
    for h in held:
        assert h["prompts"] == 8 and h["n"] == 4
        assert 0.0 <= h["summary"]["pass@1"]["mean"] <= h["summary"]["pass@4"]["mean"] <= 1.0
        assert h["summary"]["worst@4"]["mean"] <= h["summary"]["pass@1"]["mean"]


def test_every_rank_trained_and_sampled(run):
    """--ranks: verl's n_gpus_per_node, FSDP workers (one process each, a gloo group between them)
    and one vLLM rollout server per rank, each of which sampled EAD rows."""
    import re

    command = json.loads((run["dir"] / "command.json").read_text())["command"]
    assert f"trainer.n_gpus_per_node={run['ranks']}" in command
    workers = set(re.findall(r"\(WorkerDict pid=(\d+)\)", run["log"]))
    assert len(workers) == run["ranks"], workers
    samplers = [f for f in run["trace_files"] if f.stat().st_size > 0]  # one trace file per sampling process
    assert len(samplers) == run["ranks"], samplers


def test_heldout_samples_are_seeded_one_seed_per_sample(run):
    """Seeded validation (custom.ead.val_seed from --seed) gives each of a prompt's N samples its own
    seed: the samples of a prompt differ (a seed shared by a prompt's samples, as verl's V1 worker's
    trajectory numbering gave, makes all N identical); the stored record holds every prompt's metrics."""
    from collections import defaultdict

    command = json.loads((run["dir"] / "command.json").read_text())["command"]
    assert "actor_rollout_ref.rollout.custom.ead.val_seed=0" in command
    for dump in sorted((run["dir"] / "heldout").glob("*.jsonl")):
        outputs = defaultdict(list)
        for line in dump.read_text().splitlines():
            rec = json.loads(line)
            outputs[rec["input"]].append(rec["output"])
        varied = sum(len(set(v)) > 1 for v in outputs.values())
        assert varied >= len(outputs) // 2, (dump.name, varied, len(outputs))
    record = json.loads((run["dir"] / "record.json").read_text())
    assert [h["step"] for h in record["heldout"]] == [0, 2]
    assert all(len(h["prompts"]) == 8 and len(h["values"]) == 8 for h in record["heldout"])
    assert record["provenance"]["versions"]["verl"] not in ("absent", "unknown")


def test_reward_and_temperature_metrics(run):
    want = WRITTEN[run["task"]]
    for s in (1, 2):
        m = run["steps"][s]
        assert 0.0 <= m["critic/score/mean"] <= 1.0
        assert m["ead/temperature/decay"] == want[s]
        taus = [_tau_written(t, want[s]) for t in range(96)]
        assert m["ead/temperature/mean"] == pytest.approx(sum(taus) / len(taus), rel=1e-6)
    assert 0.0 <= run["steps"][2]["heldout/pass@1"] <= 1.0  # held-out metrics merged at their step


# The tasks' schedules written out (ead_ext.apps.tasks.SCHEDULES: the small preset, cutoff 0), so that the
# checks below do not share the formula under test: d_s = d0 + growth * s, and
# tau(t) = max(1 + tau_max - exp(t / (k * d_s)), tau_min) with tau_max 1.2, tau_min 0.1, k 20.
WRITTEN = {"arithmetic": {1: 6.0, 2: 7.0}, "countdown": {1: 3.0, 2: 3.5}}  # d0 5, growth 1 / d0 2.5, growth 0.5


def _tau_written(t: int, decay: float) -> float:
    import math

    return max(1.0 + 1.2 - math.exp(t / (20.0 * decay)), 0.1)


def test_tau_written_out_is_the_papers_formula():
    """The written-out numbers themselves: tau 1.2 at t = 0, 1.0 near t = 20 d ln 1.2 = 21.9 at d = 6."""
    assert _tau_written(0, 6.0) == pytest.approx(1.2)
    assert _tau_written(22, 6.0) == pytest.approx(1.0, abs=2e-3)
    assert _tau_written(500, 3.0) == 0.1


def test_ead_rows_reached_vllm_with_the_step_decay(run):
    trace = run["trace"]
    assert trace, "no EAD row reached the vLLM sampler"
    steps = {r["step"] for r in trace}
    assert steps == {1, 2}, steps  # both training steps traced (a quota per step); validation is not annealed
    want = WRITTEN[run["task"]]
    decays = {s: {r["decay"] for r in trace if r["step"] == s} for s in (1, 2)}
    assert decays == {1: {want[1]}, 2: {want[2]}}, decays  # the decay moved with the step: d0 + growth * s
    for r in trace:
        assert r["tau"] == pytest.approx(_tau_written(r["position"], want[r["step"]]), abs=1e-6), r["position"]
    # the positions span the schedule: tau above 1 early and below it later, in both steps
    for s in (1, 2):
        taus = [r["tau"] for r in trace if r["step"] == s]
        assert max(taus) > 1.05 and min(taus) < 0.95, (s, min(taus), max(taus))


def test_rollout_logprobs_are_the_annealed_ones(run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = [r for r in run["trace"] if r["step"] == 1 and abs(r["tau"] - 1.0) > 0.05]
    assert len(rows) >= 64  # the trace holds the first rows sampled: early positions, tau 1.1-1.2 (cutoff 0)
    model = AutoModelForCausalLM.from_pretrained(run["model"], dtype=torch.float32).eval()
    # verl's rollout masks the head's entries past the tokenizer (monkey_patch_compute_logits in
    # verl/workers/rollout/vllm_rollout/utils.py: logits[..., len(tokenizer):] = -inf) before vLLM
    # samples; the tiny model's head has 128 entries for its 101 tokens
    n_tokens = len(AutoTokenizer.from_pretrained(run["model"]))
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


def _traced_chains(rows):
    """Each traced row's whole sequence: (token ids, log-probs) at positions 0..p of its request,
    from the rows before it. A row is keyed by its prompt and the tokens up to and including its own
    (requests that share a prefix share those rows' log-probs: same logits, same tau_t)."""
    by_tokens = {(tuple(r["prompt_ids"]), tuple(r["output_ids"] + [r["token"]])): r for r in rows}
    chains = []
    for r in rows:
        out, prompt = r["output_ids"] + [r["token"]], tuple(r["prompt_ids"])
        links = [by_tokens.get((prompt, tuple(out[:q + 1]))) for q in range(len(out))]
        assert all(links), "a traced row's earlier positions are missing from the trace"
        chains.append((out, [x["logprob"] for x in links]))
    return chains


def test_batch_rollout_logprobs_are_the_traced_ones(run):
    """verl's batch (what its TIS step read: ead_ext.integrations.verl.batch_trace) carries the
    log-probs the EAD sampler returned: every traced sequence of step 1 is, position by position
    (and token by token where the batch has the tokens: the legacy trainer), the start of one of
    the batch's responses, and every response of the batch is traced for its first 8 positions (or all, if shorter)."""
    (step1,) = [b for b in run["batch"] if b["call"] == 1]
    assert (step1["responses"] is not None) == (run["trainer"] == "legacy")  # the V1 trainer fetches no tokens
    lps, toks = step1["rollout_log_probs"], step1["responses"]
    assert len(lps) == 2 * 4  # --quick: 2 prompts x n = 4
    covered = [0] * len(lps)  # per batch row: the longest traced sequence found in it
    for out, chain in _traced_chains([r for r in run["trace"] if r["step"] == 1]):
        hits = [b for b, lp in enumerate(lps)
                if len(lp) >= len(chain) and all(abs(x - y) <= 1e-6 for x, y in zip(lp, chain))
                and (toks is None or toks[b][:len(out)] == out)]
        assert hits, f"a traced sequence of {len(chain)} tokens is in no row of verl's batch"
        for b in hits:
            covered[b] = max(covered[b], len(chain))
    short = [b for b, lp in enumerate(lps) if covered[b] < min(8, len(lp))]
    assert not short, f"batch rows without a traced match of 8 tokens (or their whole length): {short}, {covered}"
    # the weights TIS applied are min(exp(old - rollout), C): not checked here (verl's own code,
    # test_verl_losses.py), but they are present and bounded by C = 2
    assert all(0.0 < w <= 2.0 + 1e-6 for row in step1["rollout_is_weights"] for w in row)


def test_tis_weights_reached_the_loss(run):
    for s in (1, 2):
        m = run["steps"][s]
        mean, mx, frac = (m["actor/ead/tis_weight_mean"], m["actor/ead/tis_weight_max"],
                          m["actor/ead/tis_truncated_frac"])
        assert 0.0 < mean <= mx <= 2.0 + 1e-6 and 0.0 <= frac <= 1.0  # C = 2 (the default --tis-cap)
        # not all 1 (as without EAD, or with behaviour == target log-probs): annealing moved some ratio
        assert mx > 1.0 + 1e-4 or frac > 0.0, (mean, mx, frac)
        assert abs(mean - 1.0) > 1e-6, mean
        assert m["rollout_corr/rollout_is_mean"] == pytest.approx(mean, rel=1e-3)  # verl's weights, applied once


def _ray_processes() -> set:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server|ray::"], capture_output=True, text=True).stdout
    return set(out.split())


def test_a_run_past_its_time_limit_ends_its_cluster_and_fails(tmp_path):
    """--timeout: the run is stopped while verl's Ray cluster is up (raylet and GCS seen running
    before the deadline, else the test fails); nothing of it is left running."""
    import time

    exe = shutil.which("ead-ext", path=os.path.dirname(sys.executable)) or shutil.which("ead-ext")
    before = _ray_processes()
    t0 = time.monotonic()
    proc = subprocess.Popen([exe, "train", "--quick", "--out", str(tmp_path), "--name", "late", "--timeout", "45"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_up = set()
    while proc.poll() is None and time.monotonic() - t0 < 300:
        if time.monotonic() - t0 < 45:
            out = subprocess.run(["pgrep", "-fa", "raylet|gcs_server"], capture_output=True, text=True).stdout
            seen_up |= {("gcs" if "gcs_server" in ln else "raylet") for ln in out.splitlines()
                        if ln.split()[0] not in before}
        time.sleep(0.5)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    assert seen_up == {"gcs", "raylet"}, f"the run's Ray cluster was not seen up before the deadline ({seen_up})"
    assert proc.returncode == 1 and "did not finish within 45 s" in err, err[-2000:]
    assert took < 45 + 60  # stop + the process group's grace period
    time.sleep(2)
    assert _ray_processes() - before == set()
