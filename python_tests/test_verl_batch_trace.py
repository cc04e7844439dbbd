"""The batch trace (ead_ext.integrations.verl.batch_trace) around verl's real TIS step.

Calls verl 0.9.1's ``compute_rollout_correction_and_add_to_batch`` on a small ``DataProto`` with
the patch applied and reverted: the result is verl's own either way, and with the patch the record
holds each response's rollout log-probs, tokens and weights over its mask. The whole pipeline
(vLLM's log-probs reaching this step) is checked in test_train_cli.py.
"""
import json
import math

import pytest

pytest.importorskip("verl")
torch = pytest.importorskip("torch")

from ead_ext.integrations.verl import batch_trace  # noqa: E402

CONFIG = {"rollout_is": "token", "rollout_is_threshold": 2.0}


def _batch(with_tokens: bool):
    from verl import DataProto

    rollout = torch.tensor([[-0.5, -1.0, -2.0, 0.0], [-0.125, -3.0, 0.0, 0.0]])
    old = torch.tensor([[-0.25, -1.5, -0.5, 0.0], [-0.125, -2.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    t = {"rollout_log_probs": rollout, "old_log_probs": old, "response_mask": mask}
    if with_tokens:
        t["responses"] = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
    return DataProto.from_dict(tensors=t)


def _call():
    from verl.trainer.ppo import rollout_corr_helper

    return rollout_corr_helper.compute_rollout_correction_and_add_to_batch


def test_records_what_verls_tis_step_read(tmp_path, monkeypatch):
    monkeypatch.setenv(batch_trace.ENV, str(tmp_path))
    with batch_trace.PATCH.state(applied=False):
        plain, plain_metrics = _call()(_batch(True), CONFIG)
    with batch_trace.PATCH.state(applied=True):
        traced, metrics = _call()(_batch(True), CONFIG)
        _call()(_batch(False), CONFIG)
    assert not batch_trace.PATCH.applied  # reverted after the block (off unless EAD_VERL_BATCH_TRACE is set)
    assert torch.equal(traced.batch["rollout_is_weights"], plain.batch["rollout_is_weights"])
    assert metrics == plain_metrics
    (f,) = tmp_path.glob("batch-*.jsonl")
    first, second = [json.loads(line) for line in f.read_text().splitlines()]
    assert [first["call"], second["call"]] == [1, 2]
    assert first["rollout_log_probs"] == [[-0.5, -1.0, -2.0], [-0.125, -3.0]]  # over each response's mask
    assert first["responses"] == [[5, 6, 7], [8, 9]] and second["responses"] is None
    # min(exp(old - rollout), C = 2), written out
    want = [[min(math.exp(o - r), 2.0) for o, r in zip(ow, rw)]
            for ow, rw in (([-0.25, -1.5, -0.5], [-0.5, -1.0, -2.0]), ([-0.125, -2.0], [-0.125, -3.0]))]
    for got_row, want_row in zip(first["rollout_is_weights"], want):
        assert got_row == pytest.approx(want_row, rel=1e-6)


def test_unset_means_no_file(tmp_path, monkeypatch):
    monkeypatch.delenv(batch_trace.ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # a stray relative write would land here
    assert batch_trace.wanted() is None
    with batch_trace.PATCH.state(applied=True):
        _call()(_batch(True), CONFIG)
    assert list(tmp_path.iterdir()) == []
