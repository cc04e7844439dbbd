// Portability macros for the framework-free EAD headers: the same source is
// compiled by g++ (CPU kernel) and nvcc (CUDA kernel).
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define EAD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define EAD_HOST_DEVICE inline
#endif
