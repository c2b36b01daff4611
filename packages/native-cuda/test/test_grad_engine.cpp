// The native engine (dep_grad_engine) on the GGUF given by DEP_TEST_GGUF, against the ggml gradient graph
// (dep_llm_loss_and_grad, the oracle) in F32 and bf16, against central finite differences in F32, and its
// errors. Skipped with a message when the variable is unset.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "dep/grad_engine.h"
#include "layers.h"
#include "matmul.h"
#include "dep/llm.h"
#include "dep/llm_grad.h"

namespace {

struct Compare {
    double rel_l2, cosine;
};

Compare compare(const std::vector<float> & a, const std::vector<float> & ref) {
    double d = 0, n = 0, ab = 0, aa = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        d += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
        n += static_cast<double>(ref[i]) * ref[i];
        ab += static_cast<double>(a[i]) * ref[i];
        aa += static_cast<double>(a[i]) * a[i];
    }
    return {std::sqrt(d / n), ab / std::sqrt(aa * n)};
}

double rel_l2(const std::vector<float> & a, const std::vector<float> & ref) {
    double d = 0, n = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        d += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
        n += static_cast<double>(ref[i]) * ref[i];
    }
    return std::sqrt(d / n);
}

// The blocked attention on the matmul library against the scalar reference, forward and backward, over
// more than one block of queries and a p0 inside the first block: F32 to 1e-5, bf16 (bf16 operands) to 2e-2.
void check_attention_kernels(bool bf16) {
    using namespace dep::engine;
    const AttentionShape s{300, 8, 2, 16, 0.25f};
    const int64_t T = s.T, nq = 8 * 16, nkv = 2 * 16, p0 = 37, M = T - p0;
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    auto rnd = [&](int64_t n) {
        std::vector<float> v(static_cast<size_t>(n));
        for (auto & x : v) x = nd(rng);
        return v;
    };
    const auto q = rnd(T * nq), k = rnd(T * nkv), v = rnd(T * nkv), dout = rnd(M * nq);
    std::string err;
    auto mm = Matmul::create(bf16, 2, err);
    if (bf16 && !matmul_supports_bf16()) {
        std::printf("blocked vs scalar attention, bf16: not on this build or CPU (%s)\n", err.c_str());
        return;
    }
    CHECK_MSG(mm != nullptr, "%s", err.c_str());
    if (!mm) return;
    std::vector<float> o1(T * nq), o2(T * nq), l1(8 * T), l2(8 * T), scratch(8 * T);
    attention_forward_scalar(s, q.data(), k.data(), v.data(), o1.data(), l1.data(), 2);
    AttentionScratch w;
    attention_forward(*mm, s, q.data(), k.data(), v.data(), o2.data(), l2.data(), w, 2);
    std::vector<float> dq1(M * nq), dk1(M * nkv), dv1(M * nkv), dq2(M * nq), dk2(M * nkv), dv2(M * nkv);
    attention_backward_scalar(s, p0, dout.data(), q.data(), k.data(), v.data(), o1.data(), l1.data(), dq1.data(),
                              dk1.data(), dv1.data(), scratch.data(), 2);
    attention_backward(*mm, s, p0, dout.data(), q.data(), k.data(), v.data(), o2.data(), l2.data(), dq2.data(),
                       dk2.data(), dv2.data(), w, 2);
    const double e[] = {rel_l2(o2, o1), rel_l2(l2, l1), rel_l2(dq2, dq1), rel_l2(dk2, dk1), rel_l2(dv2, dv1)};
    std::printf("blocked vs scalar attention, %s: out %.1e lse %.1e dq %.1e dk %.1e dv %.1e\n", bf16 ? "bf16" : "f32",
                e[0], e[1], e[2], e[3], e[4]);
    for (double x : e) CHECK(x <= (bf16 ? 2e-2 : 1e-5));
}

// The vector bf16 conversion (AVX512_BF16's instruction where the CPU has it) against the scalar rounding:
// ties to even, values past the largest bf16, infinities and NaN, across a span's odd tail.
void check_bf16_rounding() {
    using namespace dep::engine;
    std::vector<float> x;
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 30.0f);
    for (int i = 0; i < 997; ++i) x.push_back(nd(rng));
    const uint32_t ties[] = {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x7f7fffffu, 0x3f80ffffu};
    for (uint32_t bits : ties) {
        float f;
        std::memcpy(&f, &bits, 4);
        x.push_back(f);
    }
    x.push_back(INFINITY), x.push_back(-INFINITY), x.push_back(NAN), x.push_back(0.0f), x.push_back(-0.0f);
    std::vector<uint16_t> v(x.size());
    to_bf16_span(x.data(), v.data(), static_cast<int64_t>(x.size()));
    int mismatches = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const uint16_t ref = to_bf16(x[i]);
        const bool nan = std::isnan(x[i]);
        const bool same = nan ? std::isnan(from_bf16(v[i])) : v[i] == ref;
        if (!same && mismatches++ < 5) std::printf("  bf16(%a): vector %04x, scalar %04x\n", x[i], v[i], ref);
    }
    std::printf("bf16 rounding, vector vs scalar: %d of %zu differ\n", mismatches, x.size());
    CHECK(mismatches == 0);
}

// Products over more shapes than the matmul keeps primitives for (one per sequence length in training):
// the cache stays bounded and every product stays right across its restarts.
void check_many_shapes() {
    using namespace dep::engine;
    std::string err;
    auto mm = Matmul::create(false, 2, err);
    CHECK_MSG(mm != nullptr, "%s", err.c_str());
    if (!mm) return;
    const int64_t K = 8, N = 4;
    std::vector<float> w(N * K), x(700 * K), y(700 * N);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) - 3.0f;
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 5) * 0.5f;
    const Weight W = mm->make_weight(w.data(), N, K);
    double worst = 0;
    for (int64_t M = 1; M <= 700; ++M) {
        mm->forward(x.data(), M, W, y.data(), false);
        for (int64_t n = 0; n < N; ++n) {
            double ref = 0;
            for (int64_t k = 0; k < K; ++k) ref += static_cast<double>(x[(M - 1) * K + k]) * w[n * K + k];
            worst = std::max(worst, std::fabs(y[(M - 1) * N + n] - ref));
        }
    }
    std::printf("700 shapes: %zu primitives held, worst error %.1e\n", mm->primitives(), worst);
    CHECK(mm->primitives() <= 512);
    CHECK(worst <= 1e-5);
}

// This process's resident bytes of every mapping of `path` (/proc/self/smaps), or -1 where unreadable.
long long resident_bytes_of(const std::string & path) {
    std::ifstream smaps("/proc/self/smaps");
    if (!smaps) return -1;
    long long total = 0;
    bool ours = false;
    for (std::string line; std::getline(smaps, line);) {
        const bool header = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
                            line.find('-') != std::string::npos && line.find(':') > line.find(' ');
        if (header) ours = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
        else if (ours && line.rfind("Rss:", 0) == 0) total += std::atoll(line.c_str() + 4) * 1024;
    }
    return total;
}

// After load the engine holds its own copy of every weight: the GGUF's pages it read must not stay
// resident in this process (for an F16 source that would be the model's size again).
void check_file_pages_released(const char * path) {
    dep_grad_engine_params p = dep_grad_engine_default_params();
    p.n_threads = 2;
    char err[2048];
    dep_grad_engine * e = dep_grad_engine_load(path, p, err, sizeof(err));
    CHECK_MSG(e != nullptr, "%s", err);
    if (!e) return;
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    const long long size = static_cast<long long>(f.tellg()), resident = resident_bytes_of(path);
    std::printf("after load: %lld of the GGUF's %lld bytes resident\n", resident, size);
    if (resident >= 0) CHECK(resident <= size / 8);
    dep_grad_engine_free(e);
}

// The prompt the engine checks run: two soft ranges, the first after a token prefix, tokens between them,
// then 4 targets; the soft rows drawn from N(0, 1) with seed.
struct TestPrompt {
    std::vector<int32_t> head = {1, 450, 3186, 338}, mid = {263, 1781}, targets = {322, 4091, 29889, 13};
    std::vector<float> soft_a, soft_b;
    TestPrompt(int32_t E, unsigned seed) : soft_a(static_cast<size_t>(2 * E)), soft_b(static_cast<size_t>(3 * E)) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (auto & v : soft_a) v = nd(rng);
        for (auto & v : soft_b) v = nd(rng);
    }
    std::vector<dep_segment> segments() const {
        return {{head.data(), nullptr, 4}, {nullptr, soft_a.data(), 2}, {mid.data(), nullptr, 2},
                {nullptr, soft_b.data(), 3}};
    }
};

// Keeping every layer's activations, recomputing every layer, and keeping all but one (a budget just
// under the all-kept call's memory) give the same numbers to the bit, with the FFN in blocks of 3 rows
// (p0 = 4 falls inside the second block) and in the default blocks; each call holds no more than its
// budget, and the small blocks agree with one block to float rounding.
void check_checkpointing(const char * path, int32_t E, int32_t n_layer) {
    const TestPrompt prompt(E, 11);
    const std::vector<dep_segment> segs = prompt.segments();
    const std::vector<float> &soft_a = prompt.soft_a, &soft_b = prompt.soft_b;
    const std::vector<int32_t> & targets = prompt.targets;
    struct Run {
        float loss = 0;
        std::vector<float> g;
        dep_grad_engine_stats st{};
    };
    char err[2048];
    for (dep_grad_engine_dtype dtype : {DEP_GRAD_ENGINE_F32, DEP_GRAD_ENGINE_BF16}) {
        if (!dep_grad_engine_supports(dtype)) continue;
        const char * name = dtype == DEP_GRAD_ENGINE_BF16 ? "bf16" : "f32";
        auto run = [&](dep_grad_engine_checkpoint ck, int32_t block_rows, size_t budget) {
            dep_grad_engine_params p = dep_grad_engine_default_params();
            p.n_threads = 2;
            p.dtype = dtype;
            p.checkpoint = ck;
            p.ffn_block_rows = block_rows;
            p.activation_budget_bytes = budget;
            Run r;
            r.g.assign(soft_a.size() + soft_b.size(), 0.0f);
            dep_grad_engine * e = dep_grad_engine_load(path, p, err, sizeof(err));
            CHECK_MSG(e != nullptr, "%s", err);
            if (!e) return r;
            float * gp[2] = {r.g.data(), r.g.data() + soft_a.size()};
            CHECK_MSG(dep_grad_engine_loss_and_grad(e, segs.data(), 4, targets.data(), 4, &r.loss, gp, &r.st, err,
                                                    sizeof(err)) == 0,
                      "%s", err);
            dep_grad_engine_free(e);
            return r;
        };
        const size_t any = size_t{1} << 40;
        const Run one = run(DEP_GRAD_ENGINE_CHECKPOINT_NEVER, 1024, any);
        const Run one_again = run(DEP_GRAD_ENGINE_CHECKPOINT_ALWAYS, 1024, any);
        const Run keep = run(DEP_GRAD_ENGINE_CHECKPOINT_NEVER, 3, any);
        const Run again = run(DEP_GRAD_ENGINE_CHECKPOINT_ALWAYS, 3, any);
        const size_t budget = keep.st.activation_bytes - 1;
        const Run some = run(DEP_GRAD_ENGINE_CHECKPOINT_AUTO, 3, budget);
        std::printf("%s checkpointing: recomputed %d / %d / %d of %d layers; %zu / %zu / %zu bytes (budget %zu); "
                    "blocks of 3 vs one: grads rel L2 %.2e\n",
                    name, keep.st.n_recomputed, some.st.n_recomputed, again.st.n_recomputed, n_layer,
                    keep.st.activation_bytes, some.st.activation_bytes, again.st.activation_bytes, budget,
                    rel_l2(keep.g, one.g));
        CHECK(one.st.n_recomputed == 0 && one_again.st.n_recomputed == n_layer);
        CHECK(one_again.loss == one.loss && one_again.g == one.g);
        CHECK(keep.st.n_recomputed == 0 && !keep.st.recomputed);
        CHECK(again.st.n_recomputed == n_layer && again.st.recomputed);
        CHECK(some.st.n_recomputed == 1 && some.st.recomputed);
        CHECK(again.loss == keep.loss && again.g == keep.g);
        CHECK(some.loss == keep.loss && some.g == keep.g);
        CHECK(some.st.activation_bytes <= budget && again.st.activation_bytes < some.st.activation_bytes);
        CHECK(std::fabs(keep.loss - one.loss) <= 1e-6f * std::fabs(one.loss) && rel_l2(keep.g, one.g) <= 1e-5);
    }
}

}  // namespace

int main() {
    check_attention_kernels(false);
    check_attention_kernels(true);
    check_many_shapes();
    check_bf16_rounding();
    const char * path = std::getenv("DEP_TEST_GGUF");
    if (!path || !*path) {
        std::printf("SKIP: set DEP_TEST_GGUF to a GGUF model to run this test\n");
        return 0;
    }
    std::printf("matmul: %s\n", dep_grad_engine_matmul_name());
    check_file_pages_released(path);  // before dep_llm_load maps the same file
    dep_llm_params lp = dep_llm_default_params();
    lp.n_threads = 2;
    lp.n_ctx = 128;
    char err[2048];
    dep_llm * llm = dep_llm_load(path, lp, err, sizeof(err));
    CHECK_MSG(llm != nullptr, "%s", err);
    if (!llm) TEST_MAIN_RETURN();
    dep_llm_info info;
    dep_llm_get_info(llm, &info);
    const int32_t E = info.n_embd;
    check_checkpointing(path, E, info.n_layer);

    const TestPrompt prompt(E, 5);
    const std::vector<dep_segment> segs = prompt.segments();
    const std::vector<float> &soft_a = prompt.soft_a, &soft_b = prompt.soft_b;
    const std::vector<int32_t> &head = prompt.head, &targets = prompt.targets;
    const size_t n_grad = soft_a.size() + soft_b.size();

    auto run_oracle = [&](std::vector<float> & g) {
        g.assign(n_grad, 0.0f);
        float * gp[2] = {g.data(), g.data() + soft_a.size()};
        float loss = 0;
        CHECK_MSG(dep_llm_loss_and_grad(llm, segs.data(), 4, targets.data(), 4, &loss, gp, nullptr, err, sizeof(err)) == 0,
                  "%s", err);
        return loss;
    };
    std::vector<float> g_ref;
    const float loss_ref = run_oracle(g_ref);

    for (dep_grad_engine_dtype dtype : {DEP_GRAD_ENGINE_F32, DEP_GRAD_ENGINE_BF16}) {
        const bool bf16 = dtype == DEP_GRAD_ENGINE_BF16;
        if (!dep_grad_engine_supports(dtype)) {
            std::printf("bf16: not supported by this build/CPU, skipped\n");
            continue;
        }
        for (dep_grad_engine_checkpoint ck : {DEP_GRAD_ENGINE_CHECKPOINT_NEVER, DEP_GRAD_ENGINE_CHECKPOINT_ALWAYS}) {
            dep_grad_engine_params p = dep_grad_engine_default_params();
            p.n_threads = 2;
            p.dtype = dtype;
            p.checkpoint = ck;
            dep_grad_engine * e = dep_grad_engine_load(path, p, err, sizeof(err));
            CHECK_MSG(e != nullptr, "%s", err);
            if (!e) continue;
            dep_grad_engine_info ei = dep_grad_engine_get_info(e);
            CHECK(ei.n_embd == E && ei.weight_bytes > 0);
            std::vector<float> g(n_grad, 0.0f);
            float * gp[2] = {g.data(), g.data() + soft_a.size()};
            float loss = 0;
            dep_grad_engine_stats st{};
            CHECK_MSG(dep_grad_engine_loss_and_grad(e, segs.data(), 4, targets.data(), 4, &loss, gp, &st, err,
                                                    sizeof(err)) == 0,
                      "%s", err);
            CHECK(st.n_positions == 11 + 3 && st.first_grad_pos == 4);
            CHECK(st.recomputed == (ck == DEP_GRAD_ENGINE_CHECKPOINT_ALWAYS));
            const Compare c = compare(g, g_ref);
            const double loss_rel = std::fabs(loss - loss_ref) / std::fabs(loss_ref);
            std::printf("%s%s: loss %.7f (oracle %.7f, rel %.2e), grads rel L2 %.2e, cosine %.6f\n",
                        bf16 ? "bf16" : "f32", ck == DEP_GRAD_ENGINE_CHECKPOINT_ALWAYS ? " recompute" : "", loss,
                        loss_ref, loss_rel, c.rel_l2, c.cosine);
            CHECK(loss_rel <= (bf16 ? 1e-2 : 1e-5));
            CHECK(c.rel_l2 <= (bf16 ? 3e-2 : 1e-4));
            CHECK(c.cosine >= 0.995);

            if (!bf16 && ck == DEP_GRAD_ENGINE_CHECKPOINT_NEVER) {
                // central finite difference along the gradient
                double gn = 0;
                for (float v : g) gn += static_cast<double>(v) * v;
                gn = std::sqrt(gn);
                const float eps = 1e-2f;
                auto loss_at = [&](float s) {
                    std::vector<float> a = soft_a, b = soft_b;
                    for (size_t i = 0; i < a.size(); ++i) a[i] += s * eps * static_cast<float>(g[i] / gn);
                    for (size_t i = 0; i < b.size(); ++i) b[i] += s * eps * static_cast<float>(g[a.size() + i] / gn);
                    std::vector<dep_segment> sg = segs;
                    sg[1].embd = a.data();
                    sg[3].embd = b.data();
                    std::vector<float> g2(n_grad);
                    float * p2[2] = {g2.data(), g2.data() + a.size()};
                    float l = 0;
                    dep_grad_engine_loss_and_grad(e, sg.data(), 4, targets.data(), 4, &l, p2, nullptr, err, sizeof(err));
                    return static_cast<double>(l);
                };
                const double fd = (loss_at(1) - loss_at(-1)) / (2 * eps);
                std::printf("directional derivative: analytic %.6f, finite difference %.6f\n", gn, fd);
                CHECK(gn > 0 && std::fabs(fd - gn) / gn <= 2e-2);

                // soft rows only at the start, and no soft rows at all (loss only)
                std::vector<dep_segment> first = {{nullptr, soft_b.data(), 3}, {head.data(), nullptr, 4}};
                float * g1 = g.data();
                CHECK(dep_grad_engine_loss_and_grad(e, first.data(), 2, targets.data(), 4, &loss, &g1, &st, err,
                                                    sizeof(err)) == 0);
                CHECK(st.first_grad_pos == 0);
                std::vector<float> r1(soft_b.size());
                float * r1p = r1.data();
                float l1 = 0;
                dep_llm_loss_and_grad(llm, first.data(), 2, targets.data(), 4, &l1, &r1p, nullptr, err, sizeof(err));
                g.resize(soft_b.size());
                CHECK(std::fabs(loss - l1) / l1 <= 1e-5 && compare(g, r1).rel_l2 <= 1e-4);
                std::vector<dep_segment> hard = {{head.data(), nullptr, 4}};
                CHECK(dep_grad_engine_loss_and_grad(e, hard.data(), 1, targets.data(), 4, &loss, nullptr, &st, err,
                                                    sizeof(err)) == 0);
                dep_llm_loss_and_grad(llm, hard.data(), 1, targets.data(), 4, &l1, nullptr, nullptr, err, sizeof(err));
                CHECK(std::fabs(loss - l1) / l1 <= 1e-5);

                // errors name what is wrong
                CHECK(dep_grad_engine_loss_and_grad(e, segs.data(), 4, targets.data(), 0, &loss, gp, nullptr, err,
                                                    sizeof(err)) == -1);
                CHECK(std::strstr(err, "target is empty") != nullptr);
                std::vector<int32_t> bad = {info.n_vocab + 1};
                std::vector<dep_segment> badseg = {{bad.data(), nullptr, 1}};
                CHECK(dep_grad_engine_loss_and_grad(e, badseg.data(), 1, targets.data(), 4, &loss, nullptr, nullptr, err,
                                                    sizeof(err)) == -1);
                CHECK(std::strstr(err, "outside the vocabulary") != nullptr);
            }
            dep_grad_engine_free(e);
        }
    }
    // load errors: a missing file; 50 create/free cycles hold no memory (ASan's leak check sees a leak)
    dep_grad_engine_params p = dep_grad_engine_default_params();
    p.n_threads = 1;
    CHECK(dep_grad_engine_load("/nonexistent/model.gguf", p, err, sizeof(err)) == nullptr);
    CHECK(std::strstr(err, "/nonexistent/model.gguf") != nullptr);
    for (int i = 0; i < 50; ++i) {
        dep_grad_engine * e = dep_grad_engine_load(path, p, err, sizeof(err));
        CHECK_MSG(e != nullptr, "%s", err);
        dep_grad_engine_free(e);
    }
    dep_llm_free(llm);
    TEST_MAIN_RETURN();
}
