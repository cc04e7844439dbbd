"""The eager PyTorch composite both benchmarks race the fused op against: what a vLLM V1-style
sampler runs for tempered random rows (fp32 copy, divide by tau, softmax, exponential race, then
log_softmax + gather for the sampled token's log-prob)."""
import torch


def eager_composite(logits: torch.Tensor, temperature: torch.Tensor):
    """Temperature, softmax, exponential race, log_softmax + gather (vLLM V1 style)."""
    x = logits.float().div_(temperature[:, None])
    probs = torch.softmax(x, dim=-1)
    q = torch.empty_like(probs).exponential_()
    tokens = probs.div_(q).argmax(dim=-1)
    logprobs = torch.log_softmax(x, dim=-1).gather(1, tokens[:, None])[:, 0]
    return tokens, logprobs
