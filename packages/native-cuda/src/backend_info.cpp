#include <cstdio>
#include <cstring>
#include <string>

#include "dep/backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

#ifdef DEP_WITH_CUDA
namespace dep { void cuda_fill_info(dep_backend_info * out); }
#endif

#ifndef DEP_LLAMA_CPP_TAG
#define DEP_LLAMA_CPP_TAG "unknown"
#endif

void dep_backend_info_get(dep_backend_info * out) {
    std::memset(out, 0, sizeof(*out));
    std::string features;
    auto add = [&](bool has, const char * name) {
        if (!has) return;
        if (!features.empty()) features += ' ';
        features += name;
    };
    add(ggml_cpu_has_sse3(), "SSE3");
    add(ggml_cpu_has_ssse3(), "SSSE3");
    add(ggml_cpu_has_avx(), "AVX");
    add(ggml_cpu_has_avx2(), "AVX2");
    add(ggml_cpu_has_fma(), "FMA");
    add(ggml_cpu_has_f16c(), "F16C");
    add(ggml_cpu_has_bmi2(), "BMI2");
    add(ggml_cpu_has_avx_vnni(), "AVX_VNNI");
    add(ggml_cpu_has_avx512(), "AVX512");
    add(ggml_cpu_has_avx512_vbmi(), "AVX512_VBMI");
    add(ggml_cpu_has_avx512_vnni(), "AVX512_VNNI");
    add(ggml_cpu_has_avx512_bf16(), "AVX512_BF16");
    add(ggml_cpu_has_amx_int8(), "AMX_INT8");
    add(ggml_cpu_has_neon(), "NEON");
    add(ggml_cpu_has_arm_fma(), "ARM_FMA");
    add(ggml_cpu_has_dotprod(), "DOTPROD");
    add(ggml_cpu_has_sve(), "SVE");
    std::snprintf(out->cpu_features, sizeof(out->cpu_features), "%s", features.c_str());
    std::snprintf(out->llama_cpp_tag, sizeof(out->llama_cpp_tag), "%s", DEP_LLAMA_CPP_TAG);
    std::snprintf(out->ggml_version, sizeof(out->ggml_version), "%s", ggml_version());
#ifdef DEP_WITH_CUDA
    out->cuda_compiled = 1;
    dep::cuda_fill_info(out);
#endif
#ifdef DEP_WITH_GGML_CUDA
    out->ggml_cuda_compiled = 1;
#endif
}
