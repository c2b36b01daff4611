// Greedy generation through dep_llm on a real GGUF given by DEP_TEST_GGUF (the TS test suite generates tiny
// random-weight models); skipped with a message when the variable is unset.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "check.h"
#include "dep/llm.h"

static std::vector<int32_t> run(dep_llm * llm, const std::vector<int32_t> & prompt, int32_t n) {
    std::vector<int32_t> out;
    dep_segment seg{prompt.data(), nullptr, static_cast<int32_t>(prompt.size())};
    dep_sampling s = dep_sampling_default();
    s.max_tokens = n;
    dep_generate_stats st;
    char err[1024];
    auto cb = [](int32_t tok, void * user) -> bool {
        static_cast<std::vector<int32_t> *>(user)->push_back(tok);
        return true;
    };
    CHECK_MSG(dep_llm_generate(llm, &seg, 1, &s, cb, &out, &st, err, sizeof(err)) == 0, "%s", err);
    CHECK(st.n_prompt == static_cast<int32_t>(prompt.size()));
    CHECK(st.n_generated == static_cast<int32_t>(out.size()));
    return out;
}

int main() {
    const char * path = std::getenv("DEP_TEST_GGUF");
    if (!path || !*path) {
        std::printf("SKIP: set DEP_TEST_GGUF to a GGUF model to run this test\n");
        return 0;
    }
    dep_llm_params p = dep_llm_default_params();
    p.n_threads = 2;
    p.n_ctx = 256;
    char err[2048];
    dep_llm * llm = dep_llm_load(path, p, err, sizeof(err));
    CHECK_MSG(llm != nullptr, "%s", err);
    if (!llm) TEST_MAIN_RETURN();
    dep_llm_info info;
    dep_llm_get_info(llm, &info);
    CHECK(info.n_embd > 0 && info.n_vocab > 0 && info.n_layer > 0);

    const char * text = "Hello world, this is a test";
    std::vector<int32_t> prompt(64);
    int32_t n = dep_llm_tokenize(llm, text, static_cast<int32_t>(std::strlen(text)), prompt.data(), 64, true, false);
    CHECK(n > 0);
    prompt.resize(n > 0 ? n : 0);

    auto a = run(llm, prompt, 12);
    auto b = run(llm, prompt, 12);
    CHECK(!a.empty());
    CHECK(a == b);

    // the same prompt fed as the model's own embedding rows is impossible here without the table, but an
    // out-of-vocabulary token must be refused before any decoding
    std::vector<int32_t> bad = {info.n_vocab + 5};
    dep_segment seg{bad.data(), nullptr, 1};
    dep_sampling s = dep_sampling_default();
    CHECK(dep_llm_generate(llm, &seg, 1, &s, nullptr, nullptr, nullptr, err, sizeof(err)) != 0);
    CHECK(std::strstr(err, "outside the vocabulary") != nullptr);

    // a prompt longer than the context is refused with a clear message
    std::vector<int32_t> longp(300, prompt[0]);
    seg = {longp.data(), nullptr, 300};
    CHECK(dep_llm_generate(llm, &seg, 1, &s, nullptr, nullptr, nullptr, err, sizeof(err)) != 0);
    CHECK(std::strstr(err, "context") != nullptr);

    dep_llm_free(llm);
    TEST_MAIN_RETURN();
}
