"""The step-aware schedule hook, end to end through verl's real AgentLoopWorker and single-turn agent loop.

The EAD worker (the class the EAD manager starts) is built with verl's own constructor from an EAD
recipe config, a tiny tokenizer and model made here; ``generate_sequences`` runs verl's
single-turn agent loop and post-processing. The only stand-in is the vLLM server behind verl's
``LLMServerClient`` (verl talks to it over RPC): it records each request's sampling parameters,
which is exactly what verl's vLLM server would pass to ``vllm.SamplingParams(**sampling_params)``.
"""
import asyncio
import os

import numpy as np
import pytest

pytest.importorskip("verl")
pytest.importorskip("hydra")
pytest.importorskip("tokenizers")

from ead_ext import Schedule  # noqa: E402

WORDS = ["<pad>", "<s>", "</s>", "<unk>", "user", ":", "assistant", "what", "is", "one", "plus", "two", "?", "\n"]


class VLLMServerStandIn:
    """Records the requests verl's agent loop sends; answers with a fixed 4-token completion."""

    def __init__(self):
        self.requests = []

    async def generate(self, *, request_id, prompt_ids, sampling_params, **kwargs):
        from verl.workers.rollout.replica import TokenOutput

        self.requests.append(dict(sampling_params))
        return TokenOutput(token_ids=[9, 10, 11, 2], log_probs=[-0.1, -0.2, -0.3, -0.4], stop_reason="completed")


def _worker(tmp_path_factory, overrides=()):
    from hydra import compose, initialize_config_dir
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    import ead_ext.integrations.verl as ead_verl
    from ead_ext.integrations.verl.agent_loop import EADAgentLoopWorker

    model_dir = str(tmp_path_factory.mktemp("tiny_llama"))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} \n {% endfor %}"
                          "{% if add_generation_prompt %}assistant :{% endif %}")
    fast.save_pretrained(model_dir)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(WORDS), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2,
                                 max_position_embeddings=64)).save_pretrained(model_dir)
    config_dir = os.path.join(os.path.dirname(ead_verl.__file__), "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(config_name="ead_dapo", overrides=[
            f"actor_rollout_ref.model.path={model_dir}", "data.max_prompt_length=16", "data.max_response_length=8",
            "actor_rollout_ref.rollout.prompt_length=16", "actor_rollout_ref.rollout.response_length=8",
            *overrides])
    server = VLLMServerStandIn()
    return EADAgentLoopWorker(cfg, server), server


@pytest.fixture(scope="module")
def worker_and_server(tmp_path_factory):
    return _worker(tmp_path_factory)


def run(worker, step, validate=False, n=2, index=None):
    from verl import DataProto

    index = np.arange(n) if index is None else np.asarray(index)
    n = len(index)
    batch = DataProto.from_dict(
        non_tensors={"raw_prompt": np.array([[{"role": "user", "content": "what is one plus two ?"}]] * n, dtype=object),
                     "index": index, "data_source": np.array(["x"] * n, dtype=object)},
        meta_info={"global_steps": step, "validate": validate})
    return asyncio.run(worker.generate_sequences(batch))


@pytest.mark.parametrize("step,decay", [(0, 25.0), (1, 30.0), (100, 525.0), (10_000, 40_000.0)])
def test_rollout_requests_carry_the_step_decay(worker_and_server, step, decay):
    worker, server = worker_and_server
    server.requests.clear()
    out = run(worker, step)
    assert len(server.requests) == 2
    for req in server.requests:
        assert req["temperature"] == 1.0 and req["logprobs"]
        ead = req["extra_args"]["ead"]
        assert ead["step"] == step
        schedule = Schedule.from_dict({k: v for k, v in ead.items() if k != "step"})
        assert schedule == Schedule()
        assert schedule.at_step(ead["step"]) == decay
    # verl carried the behaviour log-probs into the batch (what its rollout correction reads)
    assert out.batch["rollout_log_probs"][0, :4].tolist() == pytest.approx([-0.1, -0.2, -0.3, -0.4])


def test_validation_rollouts_are_not_annealed(worker_and_server):
    worker, server = worker_and_server
    server.requests.clear()
    run(worker, 7, validate=True)
    assert server.requests and all("ead" not in (r.get("extra_args") or {}) for r in server.requests)


def test_validation_requests_are_seeded_per_prompt_and_repeat_with_val_seed(tmp_path_factory):
    """custom.ead.val_seed: every validation request carries its own seed, a function of (val_seed,
    prompt index, repeat) only (the same at every step and in every run: paired comparisons);
    training requests carry none; without val_seed nothing is added. EAD off (fixed-temperature
    runs) seeds validation the same way."""
    from ead_ext.integrations.verl.seeding import validation_seed

    index = [3, 3, 3, 8, 8, 8]  # verl repeats each held-out prompt val_kwargs.n times, adjacent
    expected = [validation_seed(7, i, r) for i, r in zip(index, [0, 1, 2, 0, 1, 2])]
    assert len(set(expected)) == 6 and all(0 <= s < 2 ** 31 for s in expected)
    for enable in ("true", "false"):
        worker, server = _worker(tmp_path_factory, ["actor_rollout_ref.rollout.custom.ead.val_seed=7",
                                                    f"actor_rollout_ref.rollout.custom.ead.enable={enable}"])
        for step in (0, 10):
            server.requests.clear()
            run(worker, step, validate=True, index=index)
            assert sorted(r["seed"] for r in server.requests) == sorted(expected), (enable, step)
        server.requests.clear()
        run(worker, 1, validate=False, index=index)
        assert all(r.get("seed") is None for r in server.requests)
    # the literal value: the seed must not change across releases of this code (stored results use it)
    assert validation_seed(7, 3, 0) == 161071718
    worker, server = _worker(tmp_path_factory, ["actor_rollout_ref.rollout.custom.ead.val_seed=8"])
    run(worker, 0, validate=True, index=index)
    assert not set(r["seed"] for r in server.requests) & set(expected)


def test_tq_worker_seeds_each_of_a_prompts_sessions(tmp_path_factory, monkeypatch):
    """verl's V1 (TransferQueue) worker runs one trajectory n times (session_id 0..n-1, rollout_n 0
    for all): each session gets its own seed. Stand-in: verl's own TQ ``_run_agent_loop`` body (the
    agent loop and TransferQueue writes) is replaced by a recorder; the EAD override and the class
    chain are the real ones, with the config of the legacy fixture plus val_seed."""
    pytest.importorskip("transfer_queue")
    from ead_ext.integrations.verl import agent_loop_tq
    from ead_ext.integrations.verl.seeding import validation_seed

    cfg_worker, _ = _worker(tmp_path_factory, ["actor_rollout_ref.rollout.custom.ead.val_seed=7"])
    seen = []

    async def record(self, sampling_params, trajectory, **kwargs):
        seen.append((kwargs["session_id"], sampling_params.get("seed")))

    monkeypatch.setattr(agent_loop_tq._AgentLoopWorkerTQ, "_run_agent_loop", record)
    worker = object.__new__(agent_loop_tq.EADAgentLoopWorkerTQ)
    worker.config = cfg_worker.config
    trajectory = {"step": 0, "sample_index": 3, "rollout_n": 0, "validate": True}
    for session in range(4):
        asyncio.run(worker._run_agent_loop({"temperature": 1.0}, trajectory=trajectory, trace=False,
                                           session_id=session, uid="u3"))
    assert seen == [(i, validation_seed(7, 3, i)) for i in range(4)]
    assert len({s for _, s in seen}) == 4


def test_val_seed_must_be_a_non_negative_integer():
    from ead_ext.integrations.verl.settings import EADConfigError, EADSettings

    assert EADSettings.from_mapping({"val_seed": 3}).val_seed == 3
    assert EADSettings.from_mapping({}).val_seed is None
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(EADConfigError, match="val_seed must be a non-negative integer"):
            EADSettings.from_mapping({"val_seed": bad})


def test_tq_worker_uses_the_same_hook():
    pytest.importorskip("transfer_queue")
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ

    from ead_ext.integrations.verl.agent_loop import EADAgentLoopWorkerMixin
    from ead_ext.integrations.verl.agent_loop_tq import EADAgentLoopManagerTQ, EADAgentLoopWorkerTQ

    assert issubclass(EADAgentLoopWorkerTQ, AgentLoopWorkerTQ.__ray_actor_class__)
    assert EADAgentLoopWorkerTQ._run_agent_loop is EADAgentLoopWorkerMixin._run_agent_loop
    assert EADAgentLoopWorkerTQ.__mro__.index(EADAgentLoopWorkerMixin) < \
        EADAgentLoopWorkerTQ.__mro__.index(AgentLoopWorkerTQ.__ray_actor_class__)
    assert "agent_loop_tq" in EADAgentLoopManagerTQ.__module__


@pytest.mark.parametrize("step,decay", [(0, 25.0), (1, 30.0), (100, 525.0), (10_000, 40_000.0)])
def test_vllm_shim_reads_the_same_decay(worker_and_server, step, decay):
    """The vLLM side's parser (ead_ext.integrations.vllm.params) resolves verl's requests to d_s."""
    params = pytest.importorskip("ead_ext.integrations.vllm.params")
    worker, server = worker_and_server
    server.requests.clear()
    run(worker, step, n=1)
    (req,) = server.requests
    parsed = params.parse_ead_args(req["extra_args"])
    assert parsed.decay == decay and parsed.step == step and parsed.schedule == Schedule()


def test_the_rollout_step_is_checked_as_the_vllm_side_checks_it():
    """ead_request_args and a request's "step" share ead_ext.schedule.as_step: a step verl sends as a
    tensor or an integral float is the int it stands for; -1 (a trainer that sets no step) is refused
    on both sides, each naming what it is."""
    import torch

    from ead_ext.integrations.verl.settings import EADConfigError, ead_request_args
    from ead_ext.integrations.vllm.params import EADParamsError, parse_ead_args

    sched = Schedule()
    for step in (3, 3.0, torch.tensor(3)):
        args = ead_request_args(sched, step)
        assert args["ead"]["step"] == 3 and type(args["ead"]["step"]) is int
        assert parse_ead_args(args).decay == sched.at_step(3)
    with pytest.raises(EADConfigError, match="global training step to anneal"):
        ead_request_args(sched, -1)
    with pytest.raises(EADParamsError, match="field 'step' must be an int >= 0"):
        parse_ead_args({"ead": {"step": -1}})
