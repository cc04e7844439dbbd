"""The per-position EAD temperature in verl's logged metrics (ead_ext.integrations.verl.tracking).

Drives verl's real ``Tracking`` with its ``file`` backend, as both trainers build it (``config=`` the
full resolved config), against the unpatched class.
"""
import json

import pytest

pytest.importorskip("verl")

from ead_ext import Schedule  # noqa: E402
from ead_ext.integrations.verl import tracking  # noqa: E402

SCHED = Schedule(d0=5.0, growth=1.0)
CONFIG = {"data": {"max_response_length": 64},
          "actor_rollout_ref": {"rollout": {"custom": {"ead": {**SCHED.to_dict(), "validate": False}}}}}


def _log(tmp_path, monkeypatch, config, step=3):
    import verl.utils.tracking as vt

    path = tmp_path / "log.jsonl"
    monkeypatch.setenv("VERL_FILE_LOGGER_PATH", str(path))
    t = vt.Tracking(project_name="p", experiment_name="e", default_backend=["file"], config=config)
    t.log(data={"critic/score/mean": 0.5}, step=step)
    t.finish()
    (line,) = path.read_text().splitlines()
    return json.loads(line)


@pytest.fixture
def unpatched():
    with tracking.PATCH.state(applied=False):
        yield


def test_steps_carry_the_schedule_temperature(tmp_path, monkeypatch):
    assert tracking.PATCH.applied  # by the verl.plugins entry point
    rec = _log(tmp_path, monkeypatch, CONFIG, step=3)
    data = rec["data"]
    assert rec["step"] == 3 and data["critic/score/mean"] == 0.5
    assert data["ead/temperature/decay"] == SCHED.at_step(3) == 8.0
    taus = SCHED.temperature(list(range(64)), step=3).double()
    assert data["ead/temperature/mean"] == pytest.approx(float(taus.mean()), rel=1e-9)
    assert data["ead/temperature/pos_0-8"] == pytest.approx(float(taus[:8].mean()), rel=1e-9)
    assert data["ead/temperature/pos_56-64"] == pytest.approx(float(taus[56:].mean()), rel=1e-9)
    assert len([k for k in data if "/pos_" in k]) == tracking.N_BUCKETS


def test_runs_without_ead_log_what_verl_logs(tmp_path, monkeypatch):
    assert _log(tmp_path, monkeypatch, {"data": {"max_response_length": 64}})["data"] == {"critic/score/mean": 0.5}


def test_unpatched_verl_logs_no_temperature(tmp_path, monkeypatch, unpatched):
    assert _log(tmp_path, monkeypatch, CONFIG)["data"] == {"critic/score/mean": 0.5}
