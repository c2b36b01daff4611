// dep_llm_quantize: llama.cpp's own quantizer (what llama-quantize runs), in pure mode, for test models in
// the weight types that ggml's CPU backend repacks.
#include <cstdio>
#include <cstring>
#include <string>

#include "dep/llm.h"
#include "llama.h"
#include "log_capture.h"

namespace {

struct NamedType {
    const char * name;
    llama_ftype ftype;
};

// pure mode makes every 2-D weight the ftype's base type (Q4_K_M -> Q4_K everywhere, and so on)
constexpr NamedType kTypes[] = {
    {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},     {"Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1},
    {"Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},     {"Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1},
    {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},     {"Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K},
    {"Q3_K", LLAMA_FTYPE_MOSTLY_Q3_K_M},   {"Q4_K", LLAMA_FTYPE_MOSTLY_Q4_K_M},
    {"Q5_K", LLAMA_FTYPE_MOSTLY_Q5_K_M},   {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K},
    {"IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL}, {"IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS},
};

void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}

}  // namespace

bool dep_llm_quantize(const char * src, const char * dst, const char * type, int32_t n_threads,
                      bool embeddings_f16, char * err, size_t err_size) {
    dep::install_log_capture();
    const NamedType * found = nullptr;
    for (const NamedType & t : kTypes)
        if (type && std::strcmp(t.name, type) == 0) found = &t;
    if (!found) {
        std::string names;
        for (const NamedType & t : kTypes) names += std::string(names.empty() ? "" : ", ") + t.name;
        set_err(err, err_size, std::string("unknown quantization type '") + (type ? type : "") + "' (one of " + names + ")");
        return false;
    }
    if (n_threads <= 0) {
        set_err(err, err_size, "threads must be a positive integer");
        return false;
    }
    if (!dep_gguf_check(src, err, err_size)) return false;
    dep::take_logged_errors();
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.nthread = n_threads;
    qp.ftype = found->ftype;
    qp.pure = true;
    if (embeddings_f16) {
        qp.token_embedding_type = GGML_TYPE_F16;
        qp.output_tensor_type = GGML_TYPE_F16;
    }
    const std::string tmp = std::string(dst) + ".tmp-quantize";
    if (llama_model_quantize(src, tmp.c_str(), &qp) != 0) {
        std::remove(tmp.c_str());
        const std::string why = dep::take_logged_errors();
        set_err(err, err_size, std::string("llama.cpp could not quantize ") + src + " to " + type + (why.empty() ? "" : ": " + why));
        return false;
    }
    if (std::rename(tmp.c_str(), dst) != 0) {
        std::remove(tmp.c_str());
        set_err(err, err_size, std::string("could not rename the quantized model to ") + dst + ": " + std::strerror(errno));
        return false;
    }
    return true;
}
