"""The shipped tiny arithmetic model: loads with transformers and vLLM (same greedy answers), its
tokenizer round-trips, it solves held-out problems; and the training script runs (a few steps)."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from ead_ext.apps import tiny_model as T
from ead_ext.apps.tasks import arithmetic as A

pytestmark = pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                                reason="transformers is not installed (pip install -r requirements/eval.txt)")


@pytest.fixture(scope="module")
def shipped():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = T.default_model_path(build=False)
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_checkpoint_files_and_size():
    assert T.default_model_path(build=False) == T.ASSET_DIR
    files = {f.name: f.stat().st_size for f in T.ASSET_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(files)
    assert sum(files.values()) <= 20e6
    cfg = json.loads((T.ASSET_DIR / "config.json").read_text())
    assert cfg["model_type"] == "llama" and cfg["hidden_size"] // cfg["num_attention_heads"] in (32, 64, 80)


def test_tokenizer_round_trip(shipped):
    _, tok = shipped
    p = A.make_problem(4321, 987, "-")
    text = p.prompt + p.solution
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and len(ids) == len(text) + 1
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.eos_token_id == 2 and tok.pad_token_id == 0
    assert tok.get_vocab() == T.build_tokenizer().get_vocab()  # the script rebuilds the same tokenizer


def test_shipped_model_solves_held_out_problems(shipped):
    model, tok = shipped
    probs = A.generate(32, "test", seed=7)
    answers = T.sample_answers(model, tok, [p.prompt for p in probs], temperature=0.0)
    acc = sum(A.reward(a, p.answer) for a, p in zip(answers, probs)) / len(probs)
    assert acc >= 0.3, answers[:4]
    assert all(A.extract_answer(a) is not None for a in answers[:8]), answers[:8]


def test_shipped_countdown_model_solves_some_held_out_problems():
    # trained to a low Pass@1 on purpose (room for RL): greedy answers solve some, nearly all are steps
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ead_ext.apps.tasks import countdown as C

    path = T.default_model_path(build=False, task="countdown")
    assert path == T.ASSET_DIRS["countdown"]
    model, tok = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    assert tok.get_vocab() == T.build_tokenizer().get_vocab()
    probs = C.generate(64, "test", seed=7)
    answers = T.sample_answers(model, tok, [p.prompt for p in probs], temperature=0.0)
    acc = sum(C.reward(a, p.answer) for a, p in zip(answers, probs)) / len(probs)
    assert 0.05 <= acc <= 0.8, (acc, answers[:4])
    assert sum(a.count("\n") == 4 and "####" in a for a in answers) >= 56, answers[:8]  # 3 steps + the answer
    log = json.loads((path / "train_log.json").read_text())
    assert log["task"] == "countdown" and 0.1 <= log["final_pass1_tau1"] <= 0.5


@pytest.mark.parametrize("task", sorted(T.ASSET_DIRS))
def test_training_script_runs(tmp_path, task):
    summary = T.train(tmp_path / "m", task=task, max_steps=3, eval_every=2, eval_prompts=4, batch_size=4,
                      log=lambda *_: None)
    assert summary["steps"] == 3 and len(summary["history"]) == 1 and summary["task"] == task
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    AutoTokenizer.from_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "train_log.json").read_text())["stopped_by"] == "max_steps"


def test_training_without_attention_mask_is_exact():
    # train() feeds right-padded batches without an attention mask: causal attention keeps real tokens
    # from seeing the padding, and padded positions carry no loss, so the loss is the masked one
    import torch
    from transformers import LlamaForCausalLM

    tok = T.build_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(T.build_config(tok)).eval()
    ids, att, lab = T._batch(A.generate(6, "train", seed=3), tok)
    assert (att == 0).any()  # the batch really is padded
    with torch.no_grad():
        masked = model(input_ids=ids, attention_mask=att, labels=lab).loss
        plain = model(input_ids=ids, labels=lab).loss
    torch.testing.assert_close(plain, masked, rtol=1e-5, atol=1e-6)


_VLLM_SCRIPT = textwrap.dedent("""
    import json, sys
    from vllm import LLM, SamplingParams
    if __name__ == "__main__":
        llm = LLM(model=sys.argv[1], dtype="float32", max_model_len=256, enforce_eager=True, seed=0,
                  max_num_seqs=16)
        prompts = json.loads(sys.argv[2])
        outs = llm.generate(prompts, SamplingParams(temperature=0.0, max_tokens=96), use_tqdm=False)
        print("RESULT" + json.dumps([o.outputs[0].text for o in outs]))
""")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed (requirements/vllm.txt)")
def test_shipped_model_loads_in_vllm_with_the_same_greedy_answers(shipped, tmp_path):
    model, tok = shipped
    probs = A.generate(8, "test", seed=11)
    prompts = [p.prompt for p in probs]
    script = tmp_path / "greedy.py"
    script.write_text(_VLLM_SCRIPT)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1",
               VLLM_ENABLE_V1_MULTIPROCESSING="0", TOKENIZERS_PARALLELISM="false", EAD_VLLM_DISABLE="1")
    proc = subprocess.run([sys.executable, str(script), str(T.ASSET_DIR), json.dumps(prompts)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][-1]
    vllm_texts = json.loads(line[len("RESULT"):])
    hf_texts = T.sample_answers(model, tok, prompts, temperature=0.0)
    # same weights, tokenizer and EOS handling: greedy answers agree (float ties aside)
    assert sum(a == b for a, b in zip(vllm_texts, hf_texts)) >= 7, list(zip(vllm_texts, hf_texts))
    assert all(A.extract_answer(t) is not None for t in vllm_texts), vllm_texts
