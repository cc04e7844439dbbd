"""torch.compile (on the CPU, and per device where a test takes the `device` fixture): the op inside a compiled function (fullgraph, which runs the fake
implementation for shapes) gives the eager outputs; ead_ext.sample under torch.compile."""
import warnings

import pytest
import torch

import ead_ext
from sampling_helpers import SCHED, realistic_logits, row_ids, temperatures


def _inputs(B, V, seed, dtype=torch.float32):
    x = realistic_logits(B, V, seed=seed, dtype=dtype)
    seeds, offsets = row_ids(B, seed=seed + 1)
    return x, temperatures(B, seed=seed + 2), seeds, offsets


def _op_fn(x, t, seeds, offsets):
    tokens, lp, tgt, ent = torch.ops.ead.sample(x, t, None, seeds, offsets, *SCHED, True, True)
    return tokens, lp, tgt, ent, lp - tgt  # plus an op on the outputs, so the graph has more than the call


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_op_fullgraph_inductor_equals_eager():
    compiled = torch.compile(_op_fn, fullgraph=True, backend="inductor")
    for dtype in (torch.float32, torch.bfloat16):
        args = _inputs(8, 1000, seed=1, dtype=dtype)
        for got, want in zip(compiled(*args), _op_fn(*args)):
            assert torch.equal(got, want)


def test_op_fullgraph_dynamic_shapes_equal_eager():
    """dynamic=True traces the fake implementation with symbolic B and V (aot_eager backend: the
    point is the fake kernel, not code generation)."""
    compiled = torch.compile(_op_fn, fullgraph=True, backend="aot_eager", dynamic=True)
    for B, V in [(3, 500), (9, 1200), (1, 4097)]:
        args = _inputs(B, V, seed=B)
        for got, want in zip(compiled(*args), _op_fn(*args)):
            assert torch.equal(got, want)


def _api_fn(x, t, seeds, offsets, validate):
    out = ead_ext.sample(x, temperature=t, seeds=seeds, offsets=offsets, return_target_logprobs=True,
                         return_entropy=True, validate=validate)
    return out.tokens, out.logprobs, out.target_logprobs, out.entropy


def test_api_fullgraph_without_validation_equals_eager():
    args = _inputs(8, 1000, seed=3)
    compiled = torch.compile(lambda *a: _api_fn(*a, validate=False), fullgraph=True, backend="aot_eager")
    for got, want in zip(compiled(*args), _api_fn(*args, validate=False)):
        assert torch.equal(got, want)


def test_api_compiled_with_graph_breaks_equals_eager_and_still_validates():
    """validate=True reads the tokens back (a data-dependent check): a graph break, not an error.
    aot_eager backend: inductor spends ~40 s here compiling the small graphs around the breaks."""
    args = _inputs(8, 1000, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = torch.compile(lambda *a: _api_fn(*a, validate=True), backend="aot_eager")
        for got, want in zip(compiled(*args), _api_fn(*args, validate=True)):
            assert torch.equal(got, want)
        x = args[0].clone()
        x[2, 5] = float("nan")
        with pytest.raises(ead_ext.InvalidRowError, match=r"row 2: logits contain NaN"):
            compiled(x, *args[1:])


@pytest.mark.parametrize("dynamic", [False, True])
def test_op_fullgraph_default_backend_equals_eager_per_device(device, dynamic):
    """The op inside a fullgraph-compiled function on each device, static and dynamic shapes,
    including a row long enough to be split across CUDA blocks."""
    def fn(x, t, s, o):
        tok, lp, tgt, ent = torch.ops.ead.sample(x, t, None, s, o, *SCHED, True, True)
        return tok, lp * 2.0, tgt, ent

    compiled = torch.compile(fn, fullgraph=True, dynamic=dynamic)
    for B, V in [(8, 1000), (5, 151936)]:
        x = realistic_logits(B, V, seed=720 + B, dtype=torch.bfloat16, device=device)
        seeds, offsets = row_ids(B, seed=721, device=device)
        tau = temperatures(B, seed=722, device=device)
        for g, w in zip(compiled(x, tau, seeds, offsets), fn(x, tau, seeds, offsets)):
            assert torch.equal(g, w)
