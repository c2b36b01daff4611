#include <cstdio>
#include <cstring>
#include <string>

#include "dep/backend.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

#ifdef DEP_WITH_CUDA
namespace dep { void cuda_fill_info(dep_backend_info * out); }
#endif

#ifndef DEP_CPU_TARGET
#define DEP_CPU_TARGET "native"
#endif

namespace {

// The CPU's own extensions (cpuid leaf 7 and the OS's XSAVE state), independent of what was compiled in.
std::string machine_features() {
    std::string out;
#if defined(__x86_64__) || defined(_M_X64)
    auto add = [&](bool has, const char * name) {
        if (!has) return;
        if (!out.empty()) out += ' ';
        out += name;
    };
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return out;
    const unsigned b7 = b, c7 = c, d7 = d;
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    add(b7 & (1u << 5), "AVX2");
    add(b7 & (1u << 16), "AVX512");
    add(c7 & (1u << 11), "AVX512_VNNI");
    add(a1 & (1u << 5), "AVX512_BF16");
    add(d7 & (1u << 24), "AMX_TILE");
    add(d7 & (1u << 25), "AMX_INT8");
    add(d7 & (1u << 22), "AMX_BF16");
#endif
    return out;
}

// Names of the extra buffer types ggml's CPU device offers (its weight repacking), space-separated.
std::string cpu_repack_types() {
    std::string out;
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (!cpu) return out;
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu);
    auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts"));
    if (!get_extra) return out;
    for (ggml_backend_buffer_type_t * t = get_extra(cpu); t && *t; ++t) {
        if (!out.empty()) out += ' ';
        out += ggml_backend_buft_name(*t);
    }
    return out;
}

}  // namespace

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
    std::snprintf(out->machine_features, sizeof(out->machine_features), "%s", machine_features().c_str());
    std::snprintf(out->cpu_target, sizeof(out->cpu_target), "%s", DEP_CPU_TARGET);
    out->amx_compiled = ggml_cpu_has_amx_int8();
    std::snprintf(out->cpu_repack_types, sizeof(out->cpu_repack_types), "%s", cpu_repack_types().c_str());
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
