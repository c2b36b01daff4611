#include "gguf_weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "ggml.h"
#include "gguf.h"

namespace dep::grad {

bool GgufWeights::open_part(const std::string & path, Part & part, std::string & err) {
    gguf_init_params gp{};
    gp.no_alloc = true;
    gp.ctx = &part.meta;
    part.gguf = gguf_init_from_file(path.c_str(), gp);
    if (!part.gguf) {
        err = "could not read the GGUF metadata of " + path;
        return false;
    }
    part.data_offset = gguf_get_data_offset(part.gguf);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = "could not open " + path;
        return false;
    }
    struct stat st{};
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        ::close(fd);
        err = "could not stat " + path;
        return false;
    }
    void * m = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) {
        err = "could not map " + path;
        return false;
    }
    part.map = static_cast<const uint8_t *>(m);
    part.map_size = static_cast<size_t>(st.st_size);
    // every tensor must lie inside the file
    const int64_t n = gguf_get_n_tensors(part.gguf);
    for (int64_t i = 0; i < n; ++i) {
        const ggml_tensor * t = ggml_get_tensor(part.meta, gguf_get_tensor_name(part.gguf, i));
        const size_t end = part.data_offset + gguf_get_tensor_offset(part.gguf, i) + (t ? ggml_nbytes(t) : 0);
        if (!t || end > part.map_size) {
            err = path + " is truncated: tensor " + gguf_get_tensor_name(part.gguf, i) + " lies past the end";
            return false;
        }
    }
    return true;
}

std::unique_ptr<GgufWeights> GgufWeights::open(const std::string & path, std::string & err) {
    std::unique_ptr<GgufWeights> w(new GgufWeights());
    w->parts_.emplace_back();
    if (!open_part(path, w->parts_[0], err)) return nullptr;
    w->gguf_ = w->parts_[0].gguf;
    // a split model (llama-gguf-split): the other files sit beside the first, named by split number
    const int count = static_cast<int>(w->get_num("split.count", 1));
    if (count <= 1) return w;
    const int no = static_cast<int>(w->get_num("split.no", 0));
    char suffix[40];
    std::snprintf(suffix, sizeof(suffix), "-%05d-of-%05d.gguf", no + 1, count);
    const std::string s(suffix);
    if (no != 0 || path.size() <= s.size() || path.compare(path.size() - s.size(), s.size(), s) != 0) {
        err = path + " is split " + std::to_string(no + 1) + " of " + std::to_string(count) +
              " of a split model: pass the first split (...-00001-of-" + std::to_string(count) +
              ".gguf), or merge them with `llama-gguf-split --merge FIRST.gguf merged.gguf`";
        return nullptr;
    }
    const std::string prefix = path.substr(0, path.size() - s.size());
    for (int i = 1; i < count; ++i) {
        std::snprintf(suffix, sizeof(suffix), "-%05d-of-%05d.gguf", i + 1, count);
        w->parts_.emplace_back();
        if (!open_part(prefix + suffix, w->parts_.back(), err)) {
            err += " (split " + std::to_string(i + 1) + " of " + std::to_string(count) +
                   "; keep every split beside the first, or merge them with `llama-gguf-split --merge`)";
            return nullptr;
        }
    }
    return w;
}

GgufWeights::~GgufWeights() {
    for (Part & p : parts_) {
        if (p.map) munmap(const_cast<uint8_t *>(p.map), p.map_size);
        if (p.gguf) gguf_free(p.gguf);
        if (p.meta) ggml_free(p.meta);
    }
}

void GgufWeights::release_pages() const {
    for (const Part & p : parts_)
        if (p.map) madvise(const_cast<uint8_t *>(p.map), p.map_size, MADV_DONTNEED);
}

const ggml_tensor * GgufWeights::find(const std::string & name) const {
    for (const Part & p : parts_)
        if (const ggml_tensor * t = ggml_get_tensor(p.meta, name.c_str())) return t;
    return nullptr;
}

const uint8_t * GgufWeights::data(const ggml_tensor * t) const {
    for (const Part & p : parts_) {
        if (ggml_get_tensor(p.meta, ggml_get_name(t)) != t) continue;
        const int64_t id = gguf_find_tensor(p.gguf, ggml_get_name(t));
        return p.map + p.data_offset + gguf_get_tensor_offset(p.gguf, id);
    }
    return nullptr;
}

static bool convert_rows(const ggml_tensor * t, const uint8_t * base, int64_t row0, int64_t n_rows, float * dst,
                         std::string & err) {
    const int64_t ne0 = t->ne[0];
    const size_t row_bytes = ggml_row_size(t->type, ne0);
    if (t->type == GGML_TYPE_F32) {
        std::memcpy(dst, base + static_cast<size_t>(row0) * row_bytes, static_cast<size_t>(n_rows) * row_bytes);
        return true;
    }
    const auto * traits = ggml_get_type_traits(t->type);
    if (!traits || !traits->to_float) {
        err = std::string("tensor ") + ggml_get_name(t) + " has type " + ggml_type_name(t->type) +
              ", which ggml cannot convert to F32";
        return false;
    }
    for (int64_t r = 0; r < n_rows; ++r)
        traits->to_float(base + static_cast<size_t>(row0 + r) * row_bytes, dst + r * ne0, ne0);
    return true;
}

bool GgufWeights::rows_to_f32(const ggml_tensor * t, int64_t row0, int64_t n_rows, float * dst, int n_threads,
                              std::string & err) const {
    const uint8_t * base = data(t);
    const int64_t ne0 = t->ne[0];
    n_threads = std::max(1, std::min<int>(n_threads, static_cast<int>(n_rows / 64) + 1));
    if (n_threads == 1) return convert_rows(t, base, row0, n_rows, dst, err);
    std::vector<std::thread> pool;
    std::vector<std::string> errs(static_cast<size_t>(n_threads));
    std::vector<char> ok(static_cast<size_t>(n_threads), 1);
    const int64_t per = (n_rows + n_threads - 1) / n_threads;
    for (int i = 0; i < n_threads; ++i) {
        const int64_t a = i * per, b = std::min(n_rows, a + per);
        if (a >= b) break;
        pool.emplace_back([&, i, a, b] {
            ok[i] = convert_rows(t, base, row0 + a, b - a, dst + a * ne0, errs[i]) ? 1 : 0;
        });
    }
    for (auto & th : pool) th.join();
    for (int i = 0; i < n_threads; ++i)
        if (!ok[i]) {
            err = errs[i];
            return false;
        }
    return true;
}

bool GgufWeights::gather_rows_f32(const ggml_tensor * t, const int32_t * rows, int64_t n_rows, float * dst,
                                  std::string & err) const {
    const uint8_t * base = data(t);
    for (int64_t i = 0; i < n_rows; ++i) {
        if (rows[i] < 0 || rows[i] >= t->ne[1]) {
            err = "row " + std::to_string(rows[i]) + " is outside [0, " + std::to_string(t->ne[1]) + ")";
            return false;
        }
        if (!convert_rows(t, base, rows[i], 1, dst + i * t->ne[0], err)) return false;
    }
    return true;
}

bool GgufWeights::has_key(const std::string & key) const { return gguf_find_key(gguf_, key.c_str()) >= 0; }

bool GgufWeights::is_array(const std::string & key) const {
    const int64_t id = gguf_find_key(gguf_, key.c_str());
    return id >= 0 && gguf_get_kv_type(gguf_, id) == GGUF_TYPE_ARRAY;
}

double GgufWeights::get_num(const std::string & key, double fallback) const {
    const int64_t id = gguf_find_key(gguf_, key.c_str());
    if (id < 0) return fallback;
    switch (gguf_get_kv_type(gguf_, id)) {
        case GGUF_TYPE_UINT8: return gguf_get_val_u8(gguf_, id);
        case GGUF_TYPE_INT8: return gguf_get_val_i8(gguf_, id);
        case GGUF_TYPE_UINT16: return gguf_get_val_u16(gguf_, id);
        case GGUF_TYPE_INT16: return gguf_get_val_i16(gguf_, id);
        case GGUF_TYPE_UINT32: return gguf_get_val_u32(gguf_, id);
        case GGUF_TYPE_INT32: return gguf_get_val_i32(gguf_, id);
        case GGUF_TYPE_UINT64: return static_cast<double>(gguf_get_val_u64(gguf_, id));
        case GGUF_TYPE_INT64: return static_cast<double>(gguf_get_val_i64(gguf_, id));
        case GGUF_TYPE_FLOAT32: return gguf_get_val_f32(gguf_, id);
        case GGUF_TYPE_FLOAT64: return gguf_get_val_f64(gguf_, id);
        case GGUF_TYPE_BOOL: return gguf_get_val_bool(gguf_, id) ? 1 : 0;
        default: return fallback;
    }
}

std::string GgufWeights::get_str(const std::string & key, const std::string & fallback) const {
    const int64_t id = gguf_find_key(gguf_, key.c_str());
    if (id < 0 || gguf_get_kv_type(gguf_, id) != GGUF_TYPE_STRING) return fallback;
    return gguf_get_val_str(gguf_, id);
}

}  // namespace dep::grad
