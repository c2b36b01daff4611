// Helpers shared by the kernel tests and the benchmark: seeded random fills and the error metric.
// Error metric ("max relative error" in the tests): max_i |a_i - b_i| / max_i |b_i| — relative to the
// tensor's scale, because elementwise relative error is meaningless where a value cancels to ~0.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace dep_test {

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    float uniform(float lo = -1.0f, float hi = 1.0f) {
        return lo + (hi - lo) * static_cast<float>((next() >> 40) * (1.0 / 16777216.0));
    }
    int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

inline std::vector<float> randv(Rng & r, size_t n, float scale = 1.0f) {
    std::vector<float> v(n);
    for (auto & x : v) x = r.uniform(-scale, scale);
    return v;
}

inline double rel_err(const float * a, const float * b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; ++i) {
        num = std::fmax(num, std::fabs(static_cast<double>(a[i]) - b[i]));
        den = std::fmax(den, std::fabs(static_cast<double>(b[i])));
        if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    }
    return den > 0 ? num / den : num;
}
inline double rel_err(const std::vector<float> & a, const std::vector<float> & b) {
    return a.size() != b.size() ? INFINITY : rel_err(a.data(), b.data(), a.size());
}

}  // namespace dep_test
