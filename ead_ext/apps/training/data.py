"""A verifiable task as verl data: train / held-out parquet files and a model directory verl can chat with.

verl's RL dataset (``verl.utils.dataset.rl_dataset.RLHFDataset``) reads parquet rows with
``prompt`` (a chat: a list of ``{"role", "content"}``), ``data_source`` (routes the reward),
``reward_model.ground_truth`` (what the verifier compares with) and ``extra_info``. Its agent
loop always renders the prompt with the tokenizer's chat template, so a model trained on plain
prompts (the shipped tiny model) gets a template that reproduces its training text exactly:
``<bos>`` + the user message. A model that already has a template keeps it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterable, List, Optional

from ..tasks import get_task
from ..tiny_model import PLAIN_CHAT_TEMPLATE  # the prompt as the model saw it in training (one template)

__all__ = ["DATA_SOURCE_PREFIX", "data_source", "PLAIN_CHAT_TEMPLATE", "verl_rows", "write_parquet", "task_split",
           "model_with_chat_template", "prepare_data"]

#: ``data_source`` of a row is this prefix and the task's name: verl passes it to the reward function
#: (:mod:`.reward`), which scores the row with that task's verifier.
DATA_SOURCE_PREFIX = "ead_ext/"


def data_source(task: str) -> str:
    return DATA_SOURCE_PREFIX + get_task(task).NAME


def verl_rows(tasks: Iterable[dict], split: str, task: str = "arithmetic") -> List[dict]:
    """verl RL-dataset rows of ``{"prompt": str, "answer": str}`` tasks, scored by ``task``'s verifier."""
    rows, source = [], data_source(task)
    for i, t in enumerate(tasks):
        rows.append({
            "data_source": source,
            "prompt": [{"role": "user", "content": t["prompt"]}],
            "ability": "verifiable",
            "reward_model": {"style": "rule", "ground_truth": str(t["answer"])},
            "extra_info": {"split": split, "index": i},
        })
    return rows


def write_parquet(rows: List[dict], path: Path) -> Path:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def task_split(task: str, split: str, n: int, seed: int) -> List[dict]:
    """``n`` distinct problems of ``task``'s ``split`` (train and test disjoint by construction)."""
    return [{"prompt": p.prompt, "answer": p.answer} for p in get_task(task).generate(n, split, seed=seed)]


def model_with_chat_template(model: Path, out: Path) -> Path:
    """``model`` itself when its tokenizer has a chat template, else a copy under ``out`` with the plain one."""
    cfg_path = model / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    if cfg.get("chat_template") or (model / "chat_template.jinja").exists():
        return model
    out.mkdir(parents=True, exist_ok=True)
    for f in model.iterdir():
        if f.is_file():
            shutil.copy2(f, out / f.name)
    cfg["chat_template"] = PLAIN_CHAT_TEMPLATE
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return out


def prepare_data(data: Optional[str], out: Path, train_prompts: int, heldout_prompts: int,
                 seed: int, task: str = "arithmetic") -> tuple:
    """``(train.parquet, test.parquet)`` for a run.

    ``data`` None: ``task``'s own problems, ``train_prompts`` of its train split and
    ``heldout_prompts`` of its held-out split (disjoint by construction). Else a directory with
    either ``train.parquet`` and ``test.parquet`` in verl's format (used as they are: rows whose
    ``data_source`` names no ead-ext task are scored by the arithmetic ``####`` verifier) or
    ``train.jsonl`` and ``test.jsonl`` with ``{"prompt", "answer"}`` lines (scored by ``task``'s
    verifier); the held-out file is cut to ``heldout_prompts`` rows.
    """
    out.mkdir(parents=True, exist_ok=True)
    if data is None:
        train = task_split(task, "train", train_prompts, seed)
        test = task_split(task, "test", heldout_prompts, seed)
    else:
        src = Path(data)
        if (src / "train.parquet").exists() and (src / "test.parquet").exists():
            import pandas as pd

            test_df = pd.read_parquet(src / "test.parquet").head(heldout_prompts)
            test_df.to_parquet(out / "test.parquet")
            return (src / "train.parquet").resolve(), (out / "test.parquet").resolve()
        if not ((src / "train.jsonl").exists() and (src / "test.jsonl").exists()):
            raise FileNotFoundError(f"{src}: need train.parquet + test.parquet (verl format) or train.jsonl + "
                                    "test.jsonl ({\"prompt\", \"answer\"} lines)")
        from ..tasks.jsonl import load_tasks  # the JSONL format `ead-ext eval --tasks` reads

        train = load_tasks(str(src / "train.jsonl"), task=task)
        test = load_tasks(str(src / "test.jsonl"), heldout_prompts, task=task)
    return (write_parquet(verl_rows(train, "train", task), out / "train.parquet").resolve(),
            write_parquet(verl_rows(test, "test", task), out / "test.parquet").resolve())
