"""torch.library.opcheck of ead::sample on each device (the `device` fixture): schema, autograd registration, the fake
implementation against the real one, and AOT dispatch, for each logits dtype, temperature and
positions inputs, with and without the optional outputs."""
import pytest
import torch

from sampling_helpers import DTYPES, SCHED, realistic_logits, row_ids, temperatures


def _args(dtype, mode, optional, B=6, V=300, device="cpu"):
    x = realistic_logits(B, V, seed=3, dtype=dtype, device=device)
    seeds, offsets = row_ids(B, seed=4, device=device)
    if mode == "temperature":
        t, pos = temperatures(B, seed=5, greedy_frac=0.3, device=device), None
    else:
        t, pos = None, torch.tensor([0, 5, 10, 91, 371, 2000])[:B].to(device)
    return (x, t, pos, seeds, offsets, *SCHED, optional, optional)


@pytest.mark.parametrize("optional", [True, False], ids=["with-optional-outputs", "without-optional-outputs"])
@pytest.mark.parametrize("mode", ["temperature", "positions"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_opcheck(device, dtype, mode, optional):
    torch.library.opcheck(torch.ops.ead.sample.default, _args(dtype, mode, optional, device=device))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_opcheck_empty_batch_single_entry_vocab_and_split_rows(device, dtype):
    """B = 0, V = 1, and rows long enough to be split across CUDA blocks (workspace + last-block
    merge) or CPU chunks."""
    for B, V in [(0, 17), (3, 1), (3, 151936)]:
        x = realistic_logits(B, V, seed=6, dtype=dtype, device=device) if B else \
            torch.zeros(B, V, dtype=dtype, device=device)
        seeds, offsets = row_ids(B, seed=7, device=device)
        args = (x, torch.ones(B, device=device), None, seeds, offsets, *SCHED, True, True)
        torch.library.opcheck(torch.ops.ead.sample.default, args)


def test_fake_impl_gives_output_metadata_on_meta_tensors():
    for optional in (True, False):
        args = _args(torch.bfloat16, "temperature", optional)
        meta = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in args]
        real = torch.ops.ead.sample(*args)
        fake = torch.ops.ead.sample(*meta)
        for r, f in zip(real, fake):
            assert f.device.type == "meta" and f.shape == r.shape and f.dtype == r.dtype


def test_op_schema():
    schema = str(torch.ops.ead.sample.default._schema)
    assert schema == ("ead::sample(Tensor logits, Tensor? temperature, Tensor? positions, Tensor seeds, "
                      "Tensor offsets, float tau_max, float tau_min, float decay, int cutoff, "
                      "float token_scale, bool return_target_logprobs, bool return_entropy) "
                      "-> (Tensor, Tensor, Tensor, Tensor)")


def test_outputs_do_not_require_grad_when_logits_do():
    x = torch.randn(2, 10, requires_grad=True)
    out = torch.ops.ead.sample(x, torch.ones(2), None, torch.arange(2), torch.arange(2), *SCHED, True, True)
    assert not any(o.requires_grad for o in out)  # sampling is not differentiable
