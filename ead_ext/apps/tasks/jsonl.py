"""Tasks from a JSONL file (``ead-ext eval --tasks FILE``, ``ead-ext train --data DIR``): one object per
line with a string ``prompt`` and an ``answer`` the task's verifier accepts."""
from __future__ import annotations

import json
from typing import List, Optional

from . import get_task

__all__ = ["load_tasks"]


def load_tasks(path: str, limit: Optional[int] = None, task: str = "arithmetic") -> List[dict]:
    """JSONL tasks: one object per line with string ``prompt`` and ``answer`` (checked by ``task``)."""
    check = get_task(task).validate_answer
    tasks = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{i}: not JSON ({e})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or "answer" not in obj:
                raise ValueError(f"{path}:{i}: need an object with a string 'prompt' and an 'answer'")
            try:
                check(str(obj["answer"]))
            except ValueError as e:
                raise ValueError(f"{path}:{i}: {e}") from None
            tasks.append({"prompt": obj["prompt"], "answer": str(obj["answer"])})
            if limit and len(tasks) >= limit:
                break
    if not tasks:
        raise ValueError(f"{path}: no tasks")
    return tasks
