// Schema of the ead ops. Device implementations register themselves with
// TORCH_LIBRARY_IMPL in csrc/cpu and csrc/cuda; the fake (meta) implementation
// is registered from Python (ead_ext/_ops.py).
#include <Python.h>
#include <torch/library.h>

// Importing ead_ext._C loads this library and runs the registrations; it has no
// Python-level functions (the ops are reached through torch.ops.ead).
PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}

TORCH_LIBRARY(ead, m) {
  m.def(
      "sample(Tensor logits, Tensor? temperature, Tensor? positions, Tensor seeds, Tensor offsets, "
      "float tau_max, float tau_min, float decay, int cutoff, float token_scale, "
      "bool return_target_logprobs, bool return_entropy) -> (Tensor, Tensor, Tensor, Tensor)");
}

// The op is not differentiable (a draw; its log-probs are reported, not trained
// through: training recomputes them with the model's forward). Falling through the
// Autograd key makes its outputs plain tensors, as for torch.argmax.
TORCH_LIBRARY_IMPL(ead, Autograd, m) { m.impl("sample", torch::CppFunction::makeFallthrough()); }
