"""Chat on the embedded default: the shipped tiny models' tokenizers carry the plain chat template
(BOS, then the messages' text, as the models were trained), so ``/v1/chat/completions`` on
``ead-ext serve`` works, plain and with EAD, through the OpenAI client."""
from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from ead_ext.apps.tiny_model import ASSET_DIRS, PLAIN_CHAT_TEMPLATE


@pytest.mark.parametrize("task", sorted(ASSET_DIRS))
def test_shipped_tokenizers_carry_the_plain_chat_template(task):
    tok = AutoTokenizer.from_pretrained(ASSET_DIRS[task])
    assert tok.chat_template == PLAIN_CHAT_TEMPLATE
    text = tok.apply_chat_template([{"role": "user", "content": "12+7="}], tokenize=False)
    assert text == tok.bos_token + "12+7="


def test_chat_completions_on_ead_ext_serve(tmp_path):
    import openai

    import vllm_helpers  # noqa: F401
    from ead_ext.testing.serve import ServerFailed, ead_serve

    model = str(ASSET_DIRS["arithmetic"])
    tok = AutoTokenizer.from_pretrained(model)
    problem = "23+45="
    try:
        with ead_serve(model, tmp_path / "server.log", "--max-model-len", "256") as srv:
            client = openai.OpenAI(base_url=srv["url"] + "/v1", api_key="unused")
            msgs = [{"role": "user", "content": problem}]
            greedy = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, temperature=0.0)
            assert greedy.choices[0].message.content  # not a 400 ("default chat template is no longer allowed")
            text = tok.apply_chat_template(msgs, tokenize=False)
            n_prompt = len(tok(text, add_special_tokens=False)["input_ids"])  # BOS + the problem's characters
            assert n_prompt == 1 + len(problem)
            assert greedy.usage.prompt_tokens == n_prompt
            # the chat prompt is the completion prompt: the same greedy answer
            comp = client.completions.create(model="tiny", prompt=problem, max_tokens=12, temperature=0.0)
            assert comp.usage.prompt_tokens == n_prompt
            assert comp.choices[0].text == greedy.choices[0].message.content
            ead = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, seed=3, logprobs=True,
                                                 extra_body={"vllm_xargs": {"ead": True}})
            lps = [c.logprob for c in ead.choices[0].logprobs.content]
            assert ead.choices[0].message.content and lps and all(lp <= 0.0 for lp in lps)
            again = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, seed=3, logprobs=True,
                                                   extra_body={"vllm_xargs": {"ead": True}})
            assert again.choices[0].message.content == ead.choices[0].message.content  # seeded EAD: reproducible
    except ServerFailed as e:
        pytest.fail(str(e))
