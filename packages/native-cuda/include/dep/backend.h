// dep/backend.h — what this build and this machine can do.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DEP_MAX_CUDA_DEVICES 16

typedef struct dep_cuda_device {
    char    name[256];
    int32_t major, minor;          // compute capability
    size_t  total_memory;          // bytes
    int32_t multiprocessors;
} dep_cuda_device;

typedef struct dep_backend_info {
    char    cpu_features[512];     // space-separated CPU features this build uses, e.g. "AVX2 FMA F16C"
    char    machine_features[256]; // what this CPU offers (cpuid), same names, e.g. "AVX2 AVX512 AMX_INT8"
    char    cpu_target[16];        // how llama.cpp's CPU code was compiled: "native" or "portable"
    int32_t amx_compiled;          // ggml's AMX matmul path is in this build (DEP_GGML_AMX=ON)
    char    cpu_repack_types[128]; // ggml's extra CPU weight layouts on this machine, e.g. "CPU_REPACK"
    char    llama_cpp_tag[32];     // llama.cpp release tag the addon was built from
    char    ggml_version[32];
    int32_t cuda_compiled;         // our .cu kernels were compiled in
    int32_t ggml_cuda_compiled;    // llama.cpp's CUDA backend was linked (needs cuBLAS)
    int32_t cuda_device_count;     // visible devices at run time (0 when none or no driver)
    char    cuda_error[256];       // why no device is visible, when cuda_compiled and none is
    dep_cuda_device cuda_devices[DEP_MAX_CUDA_DEVICES];
} dep_backend_info;

// Fills *out with the build's and the machine's capabilities. Never fails.
void dep_backend_info_get(dep_backend_info * out);

#ifdef __cplusplus
}
#endif
