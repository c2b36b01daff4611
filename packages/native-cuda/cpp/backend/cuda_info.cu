// Device discovery through the CUDA runtime. Absent driver or GPU is not an error: it is reported.
#include <cuda_runtime.h>

#include <cstdio>

#include "dep/backend.h"

namespace dep {

void cuda_fill_info(dep_backend_info * out) {
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) {
        std::snprintf(out->cuda_error, sizeof(out->cuda_error), "%s", cudaGetErrorString(rc));
        out->cuda_device_count = 0;
        return;
    }
    if (count > DEP_MAX_CUDA_DEVICES) count = DEP_MAX_CUDA_DEVICES;
    out->cuda_device_count = count;
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
        dep_cuda_device & d = out->cuda_devices[i];
        std::snprintf(d.name, sizeof(d.name), "%s", prop.name);
        d.major = prop.major;
        d.minor = prop.minor;
        d.total_memory = prop.totalGlobalMem;
        d.multiprocessors = prop.multiProcessorCount;
    }
}

}  // namespace dep
