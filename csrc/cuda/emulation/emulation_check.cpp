// The standalone self-test of the CUDA kernel (csrc/cuda/standalone_check.cu)
// built for the CPU emulation (cuda_emulation.h): runs the kernel's own code
// on a machine without a GPU. Built by CMakeLists.txt (ead_cuda_emulation_check)
// and run by scripts/check_cuda_compile.sh with --quick.
#define EAD_CUDA_EMULATION 1
#include "../standalone_check.cu"
