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
