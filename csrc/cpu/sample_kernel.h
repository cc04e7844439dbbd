// Interface between the CPU op (csrc/cpu/sample_cpu.cpp) and the kernel, which
// is compiled once per CPU capability (default, AVX2, AVX512) and picked at run
// time, the way ATen's DispatchStub does it.
#pragma once
#include "ead/sample_args.h"

namespace ead::cpu {

namespace DEFAULT { void sample_rows(const SampleArgs& args); }
namespace AVX2 { void sample_rows(const SampleArgs& args); }
namespace AVX512 { void sample_rows(const SampleArgs& args); }

}  // namespace ead::cpu
