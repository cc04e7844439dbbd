"""The embedded default models: tiny Llama-style causal LMs, one per task of :mod:`ead_ext.apps.tasks`.

``python -m ead_ext.apps.tiny_model train --task arithmetic|countdown`` builds a character-level tokenizer
locally (``tokenizers`` WordLevel over printable ASCII, saved as a transformers fast
tokenizer; BOS prepended, EOS ends each answer) and trains a 2-layer Llama (hidden 128,
4 heads of head_dim 32, as vLLM's CPU attention requires; 0.34 M parameters) on worked answers
of the task's train problems, on the CPU (loss on the answer tokens only;
batch 64, AdamW, lr 3e-3 with warm-up and cosine decay). Every ``--eval-every`` steps
it samples one answer at tau = 1 for ``--eval-prompts`` held-out test problems and
stops as soon as that Pass@1 reaches ``--target`` (the task's :data:`TARGETS`, inside the band
that leaves room for exploration and RL), or at ``--max-steps`` / ``--max-minutes``.
The checkpoint (safetensors, ~1.4 MB) loads with ``transformers.AutoModelForCausalLM``,
``AutoTokenizer`` and vLLM. The shipped ones are this script's default runs (seed 0), each with
its ``train_log.json``: arithmetic 400 steps, 7.1 min on 2 shared cores, held-out Pass@1 0.59 at
tau = 1; countdown (``--task countdown``) 3000 steps, 13.4 min, held-out Pass@1 0.10 at tau = 1
(greedy ~0.17: most wrong answers fake the last step's arithmetic to hit the target).

:func:`default_model_path` returns the checkpoint shipped in ``ead_ext/apps/assets/<dir>``
(package data); when it is missing it trains one once into the user cache
(``$EAD_EXT_CACHE`` or ``~/.cache/ead_ext``) and reuses it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import string
import sys
import time
from pathlib import Path
from typing import List, Optional

#: the chat template of the tiny models' tokenizers: the messages' contents after BOS, nothing else
#: (the models were trained on bare prompts, so a chat request sees exactly the prompt a completion
#: request would). Written by :func:`train` and carried by the shipped assets, so that chat endpoints
#: (``/v1/chat/completions`` on ``ead-ext serve``) and verl's chat-formatted prompts work.
PLAIN_CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}{{ message['content'] }}{% endfor %}"

__all__ = ["ASSET_DIR", "ASSET_DIRS", "TARGETS", "default_model_path", "build_tokenizer", "build_config", "train",
           "evaluate_pass1"]

ASSET_DIRS = {"arithmetic": Path(__file__).parent / "assets" / "tiny_arith",
              "countdown": Path(__file__).parent / "assets" / "tiny_countdown"}
ASSET_DIR = ASSET_DIRS["arithmetic"]
#: held-out Pass@1 at tau = 1 at which training stops: arithmetic in the 30-70 % band that leaves
#: room for exploration, countdown lower (10-50 %) so RL has room to improve
TARGETS = {"arithmetic": 0.5, "countdown": 0.3}
#: training length per task (the cosine decay spans it): countdown's answers need longer to learn
MAX_STEPS = {"arithmetic": 1500, "countdown": 3000}
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
MAX_NEW_TOKENS = 96  # the longest worked answer (4+4 digits) is ~70 characters


def _is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file() and \
        (path / "tokenizer.json").is_file()


def default_model_path(build: bool = True, task: str = "arithmetic") -> Path:
    """The shipped checkpoint of ``task``, else a cached one, else (``build``) one trained now and cached."""
    if task not in ASSET_DIRS:
        raise ValueError(f"no tiny model for task {task!r}: choose one of {sorted(ASSET_DIRS)}")
    shipped = ASSET_DIRS[task]
    if _is_checkpoint(shipped):
        return shipped
    cache = Path(os.environ.get("EAD_EXT_CACHE", Path.home() / ".cache" / "ead_ext")) / shipped.name
    if _is_checkpoint(cache):
        return cache
    if not build:
        raise FileNotFoundError(f"no tiny model in {shipped} or {cache}")
    print(f"ead_ext: training the default tiny {task} model into {cache} (once; up to ~15 min on 2 cores)",
          file=sys.stderr)
    train(cache, task=task)
    return cache


def build_tokenizer():
    """Character-level fast tokenizer over printable ASCII (ids 0-3 are the specials)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = [c for c in string.printable if c not in "\x0b\x0c\r"]
    vocab = {t: i for i, t in enumerate(SPECIALS + chars)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                      special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", clean_up_tokenization_spaces=False,
                                   model_max_length=256)


def build_config(tokenizer, hidden: int = 128, layers: int = 2, heads: int = 4, intermediate: int = 256):
    from transformers import LlamaConfig

    if hidden % heads or hidden // heads not in (32, 64, 80, 96, 112, 128, 256):
        raise ValueError("head_dim = hidden / heads must be one vLLM's CPU attention supports (32, 64, 80, ...)")
    return LlamaConfig(
        vocab_size=128, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=256,
        rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, torch_dtype="float32")


def _batch(problems, tokenizer, device="cpu"):
    import torch

    seqs, labels = [], []
    for p in problems:
        prompt = tokenizer(p.prompt)["input_ids"]  # <s> + prompt characters
        answer = tokenizer(p.solution, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        seqs.append(prompt + answer)
        labels.append([-100] * len(prompt) + answer)  # loss on the answer only
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), tokenizer.pad_token_id, dtype=torch.long)
    lab = torch.full((len(seqs), width), -100, dtype=torch.long)
    att = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (s, l) in enumerate(zip(seqs, labels)):
        ids[i, :len(s)] = torch.tensor(s)
        lab[i, :len(l)] = torch.tensor(l)
        att[i, :len(s)] = 1
    return ids.to(device), att.to(device), lab.to(device)


def sample_answers(model, tokenizer, prompts: List[str], temperature: float = 1.0, seed: int = 0,
                   max_new_tokens: int = MAX_NEW_TOKENS, batch_size: int = 128) -> List[str]:
    """One sampled completion per prompt with transformers (left padding, stops at EOS)."""
    import torch

    tokenizer.padding_side = "left"
    out = []
    with torch.random.fork_rng():  # leaves the caller's (training) RNG state alone
        torch.manual_seed(seed)
        for i in range(0, len(prompts), batch_size):
            enc = tokenizer(prompts[i:i + batch_size], return_tensors="pt", padding=True)
            with torch.no_grad():
                gen = model.generate(**enc, do_sample=temperature > 0,
                                     temperature=temperature if temperature > 0 else None, top_k=0, top_p=1.0,
                                     max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                     eos_token_id=tokenizer.eos_token_id)
            out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return out


def evaluate_pass1(model, tokenizer, n_prompts: int = 256, temperature: float = 1.0, seed: int = 0,
                   task: str = "arithmetic") -> float:
    """Fraction of ``n_prompts`` held-out test problems answered right by one sample at ``temperature``."""
    from .tasks import get_task

    t = get_task(task)
    problems = t.generate(n_prompts, "test", seed=seed)
    was_training = model.training
    model.eval()
    answers = sample_answers(model, tokenizer, [p.prompt for p in problems], temperature, seed=seed)
    model.train(was_training)
    return sum(t.reward(a, p.answer) for a, p in zip(answers, problems)) / len(problems)


def train(out: Path | str, *, task: str = "arithmetic", seed: int = 0, batch_size: int = 64, lr: float = 3e-3,
          max_steps: Optional[int] = None, max_minutes: float = 20.0, target: Optional[float] = None,
          eval_every: int = 100,
          eval_prompts: int = 128, threads: Optional[int] = None, hidden: int = 128, layers: int = 2,
          heads: int = 4, intermediate: int = 256, log=print) -> dict:
    """Trains and saves the model of ``task`` to ``out``; returns a summary (also written to ``train_log.json``)."""
    import torch
    from transformers import LlamaForCausalLM

    from .tasks import get_task

    if target is None:
        target = TARGETS[task]
    if max_steps is None:
        max_steps = MAX_STEPS[task]

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    config = build_config(tokenizer, hidden, layers, heads, intermediate)
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    warmup = 100

    def lr_at(step):  # linear warm-up, cosine decay to 10 % over max_steps
        if step < warmup:
            return lr * (step + 1) / warmup
        return lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, max_steps - warmup)))))

    stream = get_task(task).iter_problems("train", seed)
    history, t0, step, acc, loss_ema = [], time.perf_counter(), 0, float("nan"), None
    log(f"training a {n_params / 1e6:.2f} M-parameter Llama ({layers} layers, hidden {hidden}, "
        f"{heads} heads) on {torch.get_num_threads()} threads")
    model.train()
    stop = "max_steps"
    while step < max_steps:
        ids, _, lab = _batch([next(stream) for _ in range(batch_size)], tokenizer)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        # no attention mask: the batch is right-padded and attention is causal, so real tokens never
        # see the padding and padded positions carry no loss; the logits of real tokens are those
        # with the mask, and SDPA takes its causal fast path (~1.5x faster per step on 2 cores)
        loss = model(input_ids=ids, labels=lab).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
        minutes = (time.perf_counter() - t0) / 60
        if step % eval_every == 0 or minutes >= max_minutes:
            acc = evaluate_pass1(model, tokenizer, eval_prompts, temperature=1.0, seed=1, task=task)
            minutes = (time.perf_counter() - t0) / 60
            history.append({"step": step, "minutes": round(minutes, 2), "loss": round(loss_ema, 4),
                            "pass1_tau1": acc})
            log(f"step {step:5d}  {minutes:5.1f} min  loss {loss_ema:.4f}  held-out Pass@1 (tau=1, "
                f"{eval_prompts} prompts) {acc:.3f}")
            if acc >= target:
                stop = "target"
                break
            if minutes >= max_minutes:
                stop = "time"
                break
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    summary = {"task": task, "params": n_params, "layers": layers, "hidden": hidden, "steps": step, "minutes": round((time.perf_counter() - t0) / 60, 2),
               "stopped_by": stop, "final_pass1_tau1": acc, "target": target, "seed": seed,
               "batch_size": batch_size, "lr": lr, "threads": torch.get_num_threads(), "history": history}
    (out / "train_log.json").write_text(json.dumps(summary, indent=1))
    log(f"saved to {out} ({sum(f.stat().st_size for f in out.iterdir()) / 1e6:.1f} MB), stopped by {stop}")
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ead_ext.apps.tiny_model", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train a tiny model")
    tr.add_argument("--task", choices=sorted(ASSET_DIRS), default="arithmetic")
    tr.add_argument("--out", default=None, help="default: the shipped model's directory, ead_ext/apps/assets/<dir>")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--lr", type=float, default=3e-3)
    tr.add_argument("--max-steps", type=int, default=None, help=f"default {MAX_STEPS}")
    tr.add_argument("--max-minutes", type=float, default=20.0)
    tr.add_argument("--target", type=float, default=None,
                    help=f"stop when held-out Pass@1 at tau=1 reaches this (default {TARGETS})")
    tr.add_argument("--layers", type=int, default=2)
    tr.add_argument("--eval-every", type=int, default=100)
    tr.add_argument("--eval-prompts", type=int, default=128)
    tr.add_argument("--threads", type=int, default=None)
    ev = sub.add_parser("eval", help="held-out Pass@1 of a checkpoint with transformers")
    ev.add_argument("--task", choices=sorted(ASSET_DIRS), default="arithmetic")
    ev.add_argument("--model", default=None)
    ev.add_argument("--prompts", type=int, default=256)
    ev.add_argument("--temperature", type=float, default=1.0)
    ev.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "train":
        train(args.out or ASSET_DIRS[args.task], task=args.task, layers=args.layers, seed=args.seed, batch_size=args.batch_size, lr=args.lr, max_steps=args.max_steps,
              max_minutes=args.max_minutes, target=args.target, eval_every=args.eval_every,
              eval_prompts=args.eval_prompts, threads=args.threads)
        return 0
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = args.model or str(default_model_path(build=False, task=args.task))
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    acc = evaluate_pass1(model, tok, args.prompts, args.temperature, args.seed, task=args.task)
    print(f"{path}: held-out Pass@1 at tau={args.temperature} over {args.prompts} prompts: {acc:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
