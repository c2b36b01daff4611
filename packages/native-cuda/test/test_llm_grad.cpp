// dep_llm_loss_and_grad on the GGUF given by DEP_TEST_GGUF: the loss equals the cross-entropy of
// llama_decode's logits, graph logits match llama_decode's, and the gradient matches a central finite
// difference along its own direction. Skipped with a message when the variable is unset.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "dep/llm.h"
#include "dep/llm_grad.h"

static double cross_entropy(const std::vector<float> & logits, int32_t n_vocab, int32_t row0,
                            const std::vector<int32_t> & labels) {
    double total = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
        const float * row = logits.data() + static_cast<size_t>(row0 + static_cast<int32_t>(i)) * n_vocab;
        double mx = -1e30, sum = 0;
        for (int32_t v = 0; v < n_vocab; ++v) mx = std::max(mx, static_cast<double>(row[v]));
        for (int32_t v = 0; v < n_vocab; ++v) sum += std::exp(row[v] - mx);
        total += -(row[labels[i]] - mx - std::log(sum));
    }
    return total / static_cast<double>(labels.size());
}

int main() {
    const char * path = std::getenv("DEP_TEST_GGUF");
    if (!path || !*path) {
        std::printf("SKIP: set DEP_TEST_GGUF to a GGUF model to run this test\n");
        return 0;
    }
    dep_llm_params p = dep_llm_default_params();
    p.n_threads = 2;
    p.n_ctx = 128;
    char err[2048];
    dep_llm * llm = dep_llm_load(path, p, err, sizeof(err));
    CHECK_MSG(llm != nullptr, "%s", err);
    if (!llm) TEST_MAIN_RETURN();
    dep_llm_info info;
    dep_llm_get_info(llm, &info);
    const int32_t E = info.n_embd, V = info.n_vocab;

    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<int32_t> head = {1, 450, 3186}, tail = {338, 263};
    std::vector<float> soft(static_cast<size_t>(3 * E));
    for (auto & v : soft) v = nd(rng);
    std::vector<int32_t> targets = {1781, 322, 4091, 29889};

    // loss and gradients
    std::vector<dep_segment> segs = {{head.data(), nullptr, 3}, {nullptr, soft.data(), 3}, {tail.data(), nullptr, 2}};
    std::vector<float> grad(soft.size());
    float * gp = grad.data();
    float loss = 0;
    dep_grad_stats st{};
    CHECK_MSG(dep_llm_loss_and_grad(llm, segs.data(), 3, targets.data(), 4, &loss, &gp, &st, err, sizeof(err)) == 0,
              "%s", err);
    CHECK(st.n_positions == 8 + 3);
    CHECK(st.weight_bytes > 0);

    // the same positions through llama_decode (targets fed as tokens), and through the graph
    std::vector<dep_segment> full = segs;
    full.push_back({targets.data(), nullptr, 3});
    std::vector<float> dec(static_cast<size_t>(11) * V), gra(static_cast<size_t>(11) * V);
    CHECK_MSG(dep_llm_debug_logits(llm, full.data(), 4, false, dec.data(), err, sizeof(err)) == 0, "%s", err);
    CHECK_MSG(dep_llm_debug_logits(llm, full.data(), 4, true, gra.data(), err, sizeof(err)) == 0, "%s", err);
    double max_diff = 0;
    for (size_t i = 0; i < dec.size(); ++i) max_diff = std::max(max_diff, static_cast<double>(std::fabs(dec[i] - gra[i])));
    std::printf("graph vs llama_decode logits: max abs diff %.2e\n", max_diff);
    CHECK(max_diff <= 1e-2);
    const double ce = cross_entropy(dec, V, 7, targets);
    std::printf("loss %.6f, CE of llama_decode logits %.6f\n", loss, ce);
    CHECK(std::fabs(loss - ce) / ce <= 1e-3);

    // central finite difference along the gradient
    double gn = 0;
    for (float g : grad) gn += static_cast<double>(g) * g;
    gn = std::sqrt(gn);
    CHECK(gn > 0);
    const float eps = 1e-2f;
    auto loss_at = [&](float s) {
        std::vector<float> x = soft;
        for (size_t i = 0; i < x.size(); ++i) x[i] += s * eps * static_cast<float>(grad[i] / gn);
        std::vector<dep_segment> sg = {{head.data(), nullptr, 3}, {nullptr, x.data(), 3}, {tail.data(), nullptr, 2}};
        std::vector<float> g2(x.size());
        float * p2 = g2.data();
        float l = 0;
        dep_llm_loss_and_grad(llm, sg.data(), 3, targets.data(), 4, &l, &p2, nullptr, err, sizeof(err));
        return static_cast<double>(l);
    };
    const double fd = (loss_at(1) - loss_at(-1)) / (2 * eps);
    std::printf("directional derivative: analytic %.6f, finite difference %.6f\n", gn, fd);
    CHECK(std::fabs(fd - gn) / gn <= 2e-2);

    // errors: empty target, no positions
    CHECK(dep_llm_loss_and_grad(llm, segs.data(), 3, targets.data(), 0, &loss, &gp, nullptr, err, sizeof(err)) == -1);
    CHECK(std::strstr(err, "target is empty") != nullptr);
    CHECK(dep_llm_loss_and_grad(llm, segs.data(), 0, targets.data(), 4, &loss, &gp, nullptr, err, sizeof(err)) == -1);

    dep_llm_free(llm);
    TEST_MAIN_RETURN();
}
