// Shared by every backend: the thread-local error, F16 decoding, workspace layouts, diff weights.
#include <cmath>
#include <string>

#include "internal.h"

namespace dep_k {

namespace {
thread_local std::string t_err;
thread_local int64_t t_err_index = -1;
}  // namespace

dep_kstatus fail(dep_kstatus st, const std::string & msg, int64_t index) {
    t_err = msg;
    t_err_index = index;
    return st;
}

}  // namespace dep_k

extern "C" int64_t dep_kernels_last_error_index(void) { return dep_k::t_err_index; }
extern "C" const char * dep_kernels_last_error(void) { return dep_k::t_err.c_str(); }

namespace dep_k {

void clear_error() {
    t_err.clear();
    t_err_index = -1;
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                ++e;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            u = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | man << 13;
    } else {
        u = sign | (exp + 112) << 23 | man << 13;
    }
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}

SaeWs sae_ws_layout(int32_t B, int32_t d, int32_t h) {
    const int64_t M = static_cast<int64_t>(B) * DEP_SAE_ROWS;
    SaeWs w{};
    int64_t o = 0;
    w.a1 = o; o += M * h;
    w.a2 = o; o += M * d;
    w.xhat = o; o += M * d;
    w.da2 = o; o += M * d;
    w.dz = o; o += M * h;
    w.kgrad = o; o += static_cast<int64_t>(B) * h;
    w.terms = o; o += static_cast<int64_t>(B) * 2;
    o += o & 1;  // even, so the scratch can hold doubles
    w.scratch = o; o += M + 2 * static_cast<int64_t>(B) + 2;
    w.total = o;
    return w;
}

ProjWs proj_ws_layout(int32_t N, int32_t h, int32_t H) {
    (void)h;
    ProjWs w{};
    const int64_t nh = static_cast<int64_t>(N) * H;
    w.u = 0;
    w.g = nh;
    w.du = 2 * nh;
    w.total = 3 * nh;
    return w;
}

void diff_weights(const float * s, int64_t n, dep_diff_weighting wm, float * w) {
    if (wm == DEP_DIFF_UNIFORM) {
        for (int64_t i = 0; i < n; ++i) w[i] = 1.0f / static_cast<float>(n);
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += s[i];
    if (wm == DEP_DIFF_REFERENCE && !(sum > 0.0)) {
        for (int64_t i = 0; i < n; ++i) w[i] = 1.0f / static_cast<float>(n);
        return;
    }
    const double scale = wm == DEP_DIFF_REFERENCE ? 1.0 / sum : 1.0;
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::fmax(mx, s[i] * scale);
    double z = 0.0;
    for (int64_t i = 0; i < n; ++i) z += std::exp(s[i] * scale - mx);
    for (int64_t i = 0; i < n; ++i) w[i] = static_cast<float>(std::exp(s[i] * scale - mx) / z);
}

}  // namespace dep_k
