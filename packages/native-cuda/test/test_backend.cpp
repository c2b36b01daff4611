// backend info is filled and consistent; the GGUF checker rejects missing, foreign and truncated files.
#include <cstdio>
#include <cstring>
#include <string>

#include "check.h"
#include "dep/backend.h"
#include "dep/llm.h"

int main() {
    dep_backend_info bi;
    dep_backend_info_get(&bi);
    CHECK(std::strlen(bi.llama_cpp_tag) > 0);
    CHECK(std::strlen(bi.ggml_version) > 0);
    CHECK(bi.cuda_device_count >= 0 && bi.cuda_device_count <= DEP_MAX_CUDA_DEVICES);
    if (!bi.cuda_compiled) CHECK(bi.cuda_device_count == 0);
    std::printf("cpu: %s | llama.cpp %s | ggml %s | cuda compiled %d, devices %d\n", bi.cpu_features, bi.llama_cpp_tag,
                bi.ggml_version, bi.cuda_compiled, bi.cuda_device_count);

    char err[1024];
    CHECK(!dep_gguf_check("/nonexistent/model.gguf", err, sizeof(err)));
    CHECK(std::strstr(err, "not found") != nullptr);

    const std::string junk = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/dep_test_junk.gguf";
    FILE * f = std::fopen(junk.c_str(), "wb");
    std::fputs("this is not a gguf file at all", f);
    std::fclose(f);
    CHECK(!dep_gguf_check(junk.c_str(), err, sizeof(err)));
    CHECK(std::strstr(err, "bad magic") != nullptr);

    // a GGUF header that promises more metadata than the file holds
    f = std::fopen(junk.c_str(), "wb");
    const char magic[4] = {'G', 'G', 'U', 'F'};
    const uint32_t version = 3;
    const int64_t n_tensors = 1, n_kv = 5;
    std::fwrite(magic, 1, 4, f);
    std::fwrite(&version, 4, 1, f);
    std::fwrite(&n_tensors, 8, 1, f);
    std::fwrite(&n_kv, 8, 1, f);
    std::fclose(f);
    CHECK(!dep_gguf_check(junk.c_str(), err, sizeof(err)));
    CHECK_MSG(std::strstr(err, "corrupt") != nullptr, "%s", err);
    std::remove(junk.c_str());

    dep_llm_params p = dep_llm_default_params();
    p.n_threads = 0;
    CHECK(dep_llm_load("/nonexistent/model.gguf", p, err, sizeof(err)) == nullptr);
    CHECK(std::strstr(err, "threads") != nullptr);
    TEST_MAIN_RETURN();
}
