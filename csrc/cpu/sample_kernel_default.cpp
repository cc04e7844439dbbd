// The CPU kernel compiled for the DEFAULT capability (setup.py gives this file
// its ISA flags and defines CPU_CAPABILITY=DEFAULT).
#include "sample_kernel_impl.h"
