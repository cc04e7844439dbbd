"""vLLM's CPU linears keep their live weight (ead_ext.integrations.vllm.cpu_weights), against unpatched vLLM.

vLLM's CPU build swaps a linear layer's weight for a prepacked copy at load time; verl's weight
sync then finds no ``weight_loader`` on ``layer.weight`` and later updates would not reach the
packed copy. With the patch the layer keeps its Parameter and its forward reads it live.
"""
import pytest

torch = pytest.importorskip("torch")
vutils = pytest.importorskip("vllm.model_executor.layers.utils")

from ead_ext.integrations.vllm import cpu_weights  # noqa: E402


def _layer(n=64, k=48):
    layer = torch.nn.Module()
    layer.weight = torch.nn.Parameter(torch.randn(n, k, generator=torch.Generator().manual_seed(0)),
                                      requires_grad=False)
    layer.weight.weight_loader = lambda param, loaded: param.data.copy_(loaded)
    return layer


@pytest.fixture
def unpatched():
    with cpu_weights.PATCH.state(applied=False):
        yield


@pytest.fixture
def patched():
    with cpu_weights.PATCH.state(applied=True):
        yield


def test_unpatched_vllm_drops_the_weight_loader(unpatched):
    layer = _layer()
    original = layer.weight
    vutils.dispatch_cpu_unquantized_gemm(layer, remove_weight=True)
    if layer.cpu_linear is torch.nn.functional.linear or layer.weight is original:
        pytest.fail("this vLLM build kept the weight: the patch would be unnecessary here")
    assert not hasattr(layer.weight, "weight_loader")  # what verl's weight sync trips over


def test_patched_layers_use_their_live_weight(patched):
    layer = _layer()
    original = layer.weight
    vutils.dispatch_cpu_unquantized_gemm(layer, remove_weight=True)
    assert layer.weight is original and hasattr(layer.weight, "weight_loader")
    x = torch.randn(5, 48, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(vutils.cpu_unquantized_gemm(layer, x, layer.weight),
                               torch.nn.functional.linear(x, original), rtol=0, atol=0)
    new = torch.randn(64, 48, generator=torch.Generator().manual_seed(2))
    layer.weight.weight_loader(layer.weight, new)  # verl's in-place sync
    torch.testing.assert_close(vutils.cpu_unquantized_gemm(layer, x, layer.weight),
                               torch.nn.functional.linear(x, new), rtol=0, atol=0)


def test_switch(monkeypatch):
    monkeypatch.setenv(cpu_weights.ENV, "1")
    assert cpu_weights.wanted()
    monkeypatch.setenv(cpu_weights.ENV, "0")
    assert not cpu_weights.wanted()
