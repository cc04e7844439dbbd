// The CPU kernel compiled for the AVX512 capability (setup.py gives this file
// its ISA flags and defines CPU_CAPABILITY=AVX512).
#include "sample_kernel_impl.h"
