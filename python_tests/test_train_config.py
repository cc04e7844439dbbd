"""`ead-ext train` without training: the verl command it builds, composed by Hydra and checked by verl
and by the EAD checks, for every method and loss; the data it writes; the held-out summary and the
comparison table."""
import json

import pytest

pytest.importorskip("verl")
pytest.importorskip("hydra")
pytest.importorskip("pandas")

from hydra import compose, initialize_config_dir  # noqa: E402

from ead_ext.integrations.verl import check_ead_config  # noqa: E402
from ead_ext.apps.training import data as D  # noqa: E402
from ead_ext.apps.tasks import SCHEDULES  # noqa: E402

TINY_SCHEDULE = SCHEDULES["arithmetic"]
from ead_ext.apps.training.compare import format_table  # noqa: E402
from ead_ext.apps.training.heldout import summarize_dump  # noqa: E402
from ead_ext.apps.training.methods import LOSSES, default_compare_methods, parse_method  # noqa: E402
from ead_ext.apps.training.run import CONFIG_DIR, RunSpec, prepare  # noqa: E402


def _compose(cmd):
    name = cmd[cmd.index("--config-name") + 1]
    overrides = cmd[cmd.index("--config-name") + 2:]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=name, overrides=overrides)


CASES = ([("ead", loss, "v1") for loss in sorted(LOSSES)]
         + [(m, "grpo", t) for m in ("ead-notis", "tau=0.6", "tau=1.2") for t in ("v1", "legacy")]
         + [("ead", "grpo", "legacy")])


@pytest.mark.parametrize("method,loss,trainer", CASES)
def test_commands_compose_and_pass_the_checks(tmp_path, method, loss, trainer):
    from verl.trainer.main_ppo import validate_config
    from verl.trainer.ppo.utils import need_critic, need_reference_policy

    m = parse_method(method)
    spec = RunSpec(out=tmp_path / "run", method=m, schedule=TINY_SCHEDULE, trainer=trainer, loss=loss, steps=3,
                   prompts_per_step=2, rollout_n=4, train_prompts=16, heldout_prompts=4, heldout_n=4)
    cfg = _compose(prepare(spec))
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    settings = check_ead_config(cfg)
    ro = cfg.actor_rollout_ref.rollout
    corr = cfg.algorithm.rollout_correction
    if m.ead:
        assert settings.enable and settings.tis == m.tis and settings.schedule == TINY_SCHEDULE
        assert ro.temperature == 1.0
        assert (corr.rollout_is == "token") == m.tis
        assert cfg.actor_rollout_ref.actor.policy_loss.loss_mode.startswith("ead_") == m.tis
    else:
        assert not settings.enable and ro.temperature == m.temperature and corr.rollout_is is None
    assert cfg.trainer.use_v1 == (trainer == "v1")
    assert ro.agent.agent_loop_manager_class.endswith("TQ" if trainer == "v1" else "EADAgentLoopManager")
    assert cfg.trainer.total_training_steps == 3 and ro.n == 4 and ro.val_kwargs.n == 4
    assert cfg.reward.custom_reward_function.path.endswith("training/reward.py")


def test_no_tis_ablation_is_refused_with_a_weight():
    from ead_ext.integrations.verl import EADConfigError

    cmd = ["--config-name", "ead_grpo", "actor_rollout_ref.rollout.custom.ead.tis=false"]
    with pytest.raises(EADConfigError, match="tis=false"):
        check_ead_config(_compose(cmd))


@pytest.mark.parametrize("task", ["arithmetic", "countdown"])
def test_data_is_verl_rows_with_disjoint_splits(tmp_path, task):
    import pandas as pd

    from ead_ext.apps.training.reward import compute_score

    train, test = D.prepare_data(None, tmp_path, 64, 16, seed=0, task=task)
    tr, te = pd.read_parquet(train), pd.read_parquet(test)
    assert len(tr) == 64 and len(te) == 16
    row = tr.iloc[0]
    assert row["data_source"] == f"ead_ext/{task}" and row["prompt"][0]["role"] == "user"
    assert set(tr["prompt"].map(lambda p: p[0]["content"])).isdisjoint(te["prompt"].map(lambda p: p[0]["content"]))
    # verl's reward call on a row scores it with that task's verifier: the worked solution earns 1
    from ead_ext.apps.tasks import get_task

    p = get_task(task).generate(1, "train", seed=0)[0]
    assert row["reward_model"]["ground_truth"] == p.answer
    assert compute_score(row["data_source"], p.solution, row["reward_model"]["ground_truth"])["score"] == 1.0


def test_tiny_model_gets_a_template_that_reproduces_its_prompts(tmp_path):
    from transformers import AutoTokenizer

    from ead_ext.apps.tiny_model import default_model_path

    src = default_model_path()
    tok0 = AutoTokenizer.from_pretrained(src)
    tok = AutoTokenizer.from_pretrained(D.model_with_chat_template(src, tmp_path / "m"))
    prompt = "12+34=?\n"
    ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert list(ids) == tok0(prompt).input_ids  # BOS + the prompt, as in the model's training


def test_reward_function_is_the_verifier():
    from ead_ext.apps.training.reward import compute_score

    for source in ("ead", "ead_ext/arithmetic", "openai/gsm8k", None):  # any other source: the #### rule
        assert compute_score(source, "1+2+0=3|3\n#### 3\n", "3") == {"score": 1.0, "malformed": 0.0}
        assert compute_score(source, "#### 4\n", "3") == {"score": 0.0, "malformed": 0.0}
        assert compute_score(source, "no answer", "3") == {"score": 0.0, "malformed": 1.0}
    cd = "ead_ext/countdown"
    assert compute_score(cd, "5*3=15\n15+7=22\n22+2=24\n#### 24\n", "3 5 7 2 -> 24")["score"] == 1.0
    assert compute_score(cd, "#### 24\n", "3 5 7 2 -> 24") == {"score": 0.0, "malformed": 1.0}
    assert compute_score(cd, "7-5=2\n2*3=6\n6*2=12\n#### 12\n", "3 5 7 2 -> 24") == {"score": 0.0, "malformed": 0.0}


def test_heldout_summary_from_a_verl_dump(tmp_path):
    lines = []
    for prompt, gts, outs in (("1+2=?\n", "3", ["#### 3\n", "#### 3\n", "#### 4\n", "x"]),
                              ("2+2=?\n", "4", ["#### 5\n"] * 4)):
        lines += [json.dumps({"input": prompt, "output": o, "gts": gts, "score": 0, "step": 7}) for o in outs]
    (tmp_path / "7.jsonl").write_text("\n".join(lines) + "\n")
    h = summarize_dump(tmp_path / "7.jsonl", ks=[1, 4], majority=[4])
    assert h["step"] == 7 and h["prompts"] == 2 and h["n"] == 4
    s = h["summary"]
    assert s["pass@1"]["mean"] == pytest.approx((0.5 + 0.0) / 2)
    assert s["pass@4"]["mean"] == pytest.approx(0.5)
    assert s["worst@4"]["mean"] == 0.0
    assert s["maj@4"]["mean"] == pytest.approx(0.5)  # 3, 3, 4 vote 3 (right); 5 x4 (wrong)
    assert s["malformed"]["mean"] == pytest.approx(1 / 8)


def test_compare_table_rows_and_steps():
    def est(v):
        return {"mean": v, "lo": v - 0.1, "hi": v + 0.1}

    def run(name, vals):
        return {"method": name, "heldout": [{"step": s, "summary": {"pass@1": est(v), "pass@16": est(v), "worst@16": est(v),
                                                                    "maj@16": est(v)}} for s, v in vals]}

    table = format_table([run("ead", [(0, 0.5), (5, 0.6), (10, 0.7), (20, 0.8)]),
                          run("tau=1", [(0, 0.5), (10, 0.55), (20, 0.6)])])
    lines = table.splitlines()
    assert lines[0] == "| method | step | pass@1 | pass@16 | worst@16 | maj@16 |"
    assert [ln.split("|")[2].strip() for ln in lines[2:]] == ["0", "10", "20", "0", "10", "20"]  # common steps
    assert "0.800 [0.700, 0.900]" in lines[4]
    assert [m.name for m in default_compare_methods()] == ["ead", "ead-notis", "tau=0.6", "tau=1", "tau=1.2"]
    with pytest.raises(ValueError):
        parse_method("tau=0")


def test_heldout_summary_uses_the_runs_verifier(tmp_path):
    spec = "3 5 7 2 -> 24"
    outs = ["5*3=15\n15+7=22\n22+2=24\n#### 24\n", "3*5=15\n7+15=22\n2+22=24\n#### 24\n",  # one route, twice
            "7-3=4\n5-2=3\n4*3=12\n#### 12\n", "#### 24\n"]
    lines = [json.dumps({"input": spec + "\n", "output": o, "gts": spec, "score": 0, "step": 3}) for o in outs]
    (tmp_path / "3.jsonl").write_text("\n".join(lines) + "\n")
    s = summarize_dump(tmp_path / "3.jsonl", ks=[1, 4], majority=[4], task="countdown")["summary"]
    assert s["pass@1"]["mean"] == pytest.approx(0.5) and s["pass@4"]["mean"] == 1.0
    assert s["maj@4"]["mean"] == 1.0  # the route given twice wins the vote
    assert s["malformed"]["mean"] == pytest.approx(0.25)


def test_ending_a_run_also_ends_its_processes_that_left_the_group():
    """A run's process that started a session of its own (as some of Ray's do) is ended by its marker."""
    import os
    import subprocess
    import sys
    import time

    from ead_ext.apps.training.run import RUN_MARKER, _end_group, marked_processes

    run_id = f"test-{os.getpid()}-{time.time_ns()}"
    # the run's leader starts a child in a new session, prints its pid, and both sleep
    leader = ("import subprocess,sys,time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
              " start_new_session=True); print(c.pid, flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", leader], env=dict(os.environ, **{RUN_MARKER: run_id}),
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    escaped = int(proc.stdout.readline())
    assert os.getpgid(escaped) != proc.pid  # it really left the run's process group
    assert sorted(marked_processes(run_id)) == sorted([proc.pid, escaped])
    t0 = time.monotonic()
    _end_group(proc, run_id, grace_s=5.0)
    assert proc.returncode is not None and time.monotonic() - t0 < 15
    assert marked_processes(run_id) == []
    try:  # gone, or a zombie its new parent has not reaped yet
        with open(f"/proc/{escaped}/stat") as f:
            assert f.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except FileNotFoundError:
        pass


def _tiny_spec(tmp_path, **kw):
    return RunSpec(out=tmp_path / "run", method=parse_method("ead"), schedule=TINY_SCHEDULE, steps=3,
                   prompts_per_step=2, rollout_n=4, train_prompts=16, heldout_prompts=4, heldout_n=4, **kw)


def test_ranks_split_the_step_over_the_trainer_ranks(tmp_path):
    from verl.trainer.main_ppo import validate_config
    from verl.trainer.ppo.utils import need_critic, need_reference_policy

    from ead_ext.integrations.verl import cpu_mode

    cfg = _compose(prepare(_tiny_spec(tmp_path, ranks=2)))
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    assert cfg.trainer.n_gpus_per_node == 2
    assert cfg.actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu == 4  # 2 prompts x 4 over 2 ranks
    assert cfg.actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu == 4
    if cpu_mode.wanted():
        assert cfg.ray_kwargs.ray_init.num_gpus == 2  # a logical GPU per rank
    with pytest.raises(ValueError, match="ranks must be >= 1 and divide"):
        prepare(_tiny_spec(tmp_path, ranks=3))


def test_a_spec_at_one_rank_is_written_as_the_stored_ones_were(tmp_path):
    """ranks was added after the stored records: at its default it is not written, so those records'
    specs and a new run's spec compare equal (pooling, the resumable --compare)."""
    assert "ranks" not in _tiny_spec(tmp_path).to_json()
    assert _tiny_spec(tmp_path, ranks=2).to_json()["ranks"] == 2


def test_a_run_joining_a_shared_cluster(tmp_path):
    """prepare(own_ray=False) plus SharedRay.overrides: ray.init gets the address, no resources of
    its own (Ray refuses num_cpus / num_gpus when connecting) and the per-run variables as strings."""
    from ead_ext.apps.training.ray_cluster import SharedRay
    from ead_ext.apps.training.run import RUN_MARKER

    cluster = SharedRay({"PATH": "/bin"}, num_cpus=16, num_gpus=1)
    cluster.address = "127.0.0.1:6390"  # not started: only the command is built here
    run_env = {"VERL_FILE_LOGGER_PATH": str(tmp_path / "verl_log.jsonl"), RUN_MARKER: "123-456", "PATH": "/bin"}
    cfg = _compose(prepare(_tiny_spec(tmp_path), own_ray=False) + cluster.overrides(run_env))
    init = cfg.ray_kwargs.ray_init
    assert init.address == "127.0.0.1:6390"
    assert init.num_cpus is None and "num_gpus" not in init and "include_dashboard" not in init
    assert dict(init.runtime_env.env_vars) == {"VERL_FILE_LOGGER_PATH": run_env["VERL_FILE_LOGGER_PATH"],
                                               RUN_MARKER: "123-456"}
    assert all(isinstance(v, str) for v in init.runtime_env.env_vars.values())
    assert cluster.driver_env["RAY_AUTH_MODE"] == "token" and len(cluster.driver_env["RAY_AUTH_TOKEN"]) == 64


@pytest.mark.parametrize("shape", ["token_length", "both_v_1_5", "global_step"])
def test_a_schedule_shape_reaches_the_verl_config(tmp_path, shape):
    """``ead-ext train --shape X``: the spec's schedule, written as custom.ead overrides, is what verl's
    config hands the EAD rollout (and the stored records, all negexp, do not write the field)."""
    sched = TINY_SCHEDULE.replace(shape=shape)
    spec = RunSpec(out=tmp_path / "run", method=parse_method("ead"), schedule=sched, steps=3, prompts_per_step=2,
                   rollout_n=4, train_prompts=16, heldout_prompts=4, heldout_n=4)
    assert check_ead_config(_compose(prepare(spec))).schedule == sched
    assert spec.to_json()["schedule"]["shape"] == shape and "shape" not in TINY_SCHEDULE.to_dict()
