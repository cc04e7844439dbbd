// The CPU kernel compiled for the AVX2 capability (setup.py gives this file
// its ISA flags and defines CPU_CAPABILITY=AVX2).
#include "sample_kernel_impl.h"
