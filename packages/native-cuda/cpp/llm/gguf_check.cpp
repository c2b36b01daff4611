// A complete-file check before llama.cpp sees a GGUF: llama.cpp reports most corruptions itself, but a
// clear "truncated at byte N of M" beats a failed read deep inside the loader.
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>

#include "dep/llm.h"
#include "gguf.h"
#include "log_capture.h"

namespace {
void set_err(char * err, size_t err_size, const std::string & msg) {
    if (err && err_size) std::snprintf(err, err_size, "%s", msg.c_str());
}
// "<arch>.block_count = 0" for the first of the graph's sizes that is not positive, else "".
std::string bad_hyperparameter(const gguf_context * ctx) {
    const int64_t arch_id = gguf_find_key(ctx, "general.architecture");
    if (arch_id < 0 || gguf_get_kv_type(ctx, arch_id) != GGUF_TYPE_STRING) return "";
    const std::string arch = gguf_get_val_str(ctx, arch_id);
    for (const char * key : {"block_count", "embedding_length", "attention.head_count", "context_length"}) {
        const std::string full = arch + "." + key;
        const int64_t id = gguf_find_key(ctx, full.c_str());
        if (id < 0) continue;
        double v = 1;
        switch (gguf_get_kv_type(ctx, id)) {
            case GGUF_TYPE_UINT32: v = gguf_get_val_u32(ctx, id); break;
            case GGUF_TYPE_INT32: v = gguf_get_val_i32(ctx, id); break;
            case GGUF_TYPE_UINT64: v = static_cast<double>(gguf_get_val_u64(ctx, id)); break;
            case GGUF_TYPE_INT64: v = static_cast<double>(gguf_get_val_i64(ctx, id)); break;
            case GGUF_TYPE_UINT16: v = gguf_get_val_u16(ctx, id); break;
            case GGUF_TYPE_INT16: v = gguf_get_val_i16(ctx, id); break;
            default: continue;  // arrays (per-layer head counts) are checked by llama.cpp
        }
        if (!(v > 0)) return full + " = " + std::to_string(static_cast<long long>(v));
    }
    return "";
}
}  // namespace

bool dep_gguf_check(const char * path, char * err, size_t err_size) {
    dep::install_log_capture();
    struct stat st {};
    if (stat(path, &st) != 0) {
        set_err(err, err_size, std::string("model file not found: ") + path + " (check the path, or run `pnpm assets`)");
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, err_size, std::string("model path is not a regular file: ") + path);
        return false;
    }
    FILE * f = std::fopen(path, "rb");
    if (!f) {
        set_err(err, err_size, std::string("cannot open model file: ") + path + ": " + std::strerror(errno));
        return false;
    }
    char magic[4] = {0, 0, 0, 0};
    size_t got = std::fread(magic, 1, 4, f);
    std::fclose(f);
    if (got != 4 || std::memcmp(magic, "GGUF", 4) != 0) {
        set_err(err, err_size, std::string("not a GGUF file (bad magic): ") + path);
        return false;
    }
    gguf_init_params params{};
    params.no_alloc = true;
    params.ctx = nullptr;
    gguf_context * ctx = gguf_init_from_file(path, params);
    if (!ctx) {
        std::string why = dep::take_logged_errors();
        set_err(err, err_size, std::string("corrupt GGUF header or metadata in ") + path + (why.empty() ? "" : ": " + why));
        return false;
    }
    // hyperparameters llama.cpp builds its graph from: a zero or negative one makes ggml abort the process
    const std::string bad = bad_hyperparameter(ctx);
    if (!bad.empty()) {
        gguf_free(ctx);
        set_err(err, err_size, path + std::string(": ") + bad +
                                   "; a model needs a positive value there (the file is broken or not a complete "
                                   "model: re-download or re-convert it)");
        return false;
    }
    const size_t data_offset = gguf_get_data_offset(ctx);
    size_t end = data_offset;
    for (int64_t i = 0; i < gguf_get_n_tensors(ctx); ++i) {
        size_t tensor_end = data_offset + gguf_get_tensor_offset(ctx, i) + gguf_get_tensor_size(ctx, i);
        if (tensor_end > end) end = tensor_end;
    }
    gguf_free(ctx);
    if (static_cast<size_t>(st.st_size) < end) {
        set_err(err, err_size, std::string("truncated GGUF file ") + path + ": tensor data needs " + std::to_string(end) +
                                   " bytes, the file has " + std::to_string(st.st_size) +
                                   " (re-download or re-create it)");
        return false;
    }
    return true;
}
