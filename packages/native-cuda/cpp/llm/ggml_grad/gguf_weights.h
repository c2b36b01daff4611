// A GGUF file opened a second time, read-only and memory-mapped (the pages are shared with llama.cpp's own
// mapping through the page cache), for the parts llama.cpp does not expose: raw token-embedding rows and
// the weights of the gradient graph, dequantized to F32 with ggml's type traits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct gguf_context;
struct ggml_context;
struct ggml_tensor;

namespace dep::grad {

class GgufWeights {
  public:
    // Opens and maps path (and, for the first split of a split model, every other split); returns nullptr
    // with a message in err on failure.
    static std::unique_ptr<GgufWeights> open(const std::string & path, std::string & err);
    ~GgufWeights();
    GgufWeights(const GgufWeights &) = delete;
    GgufWeights & operator=(const GgufWeights &) = delete;

    // Tensor metadata (shape, type) by name, or nullptr. The returned tensor has no data.
    const ggml_tensor * find(const std::string & name) const;
    // Raw bytes of a tensor inside the mapping.
    const uint8_t * data(const ggml_tensor * t) const;
    // Dequantizes rows [row0, row0 + n_rows) of a 2-D tensor into dst (n_rows * ne0 floats), using up to
    // n_threads threads. Returns false (and fills err) for a type ggml cannot convert.
    bool rows_to_f32(const ggml_tensor * t, int64_t row0, int64_t n_rows, float * dst, int n_threads,
                     std::string & err) const;
    // Dequantizes the given rows (indices into dim 1) of a 2-D tensor.
    bool gather_rows_f32(const ggml_tensor * t, const int32_t * rows, int64_t n_rows, float * dst,
                         std::string & err) const;

    // Drops this process's resident pages of the mappings (the file stays in the page cache; a later read
    // faults its pages back): after the weights have been copied out, the mapping need not count.
    void release_pages() const;

    gguf_context * gguf() const { return gguf_; }
    // Metadata helpers: numeric keys accept any integer/float GGUF type; missing keys give the fallback.
    bool has_key(const std::string & key) const;
    double get_num(const std::string & key, double fallback) const;
    std::string get_str(const std::string & key, const std::string & fallback) const;
    // True when the key holds an array (e.g. per-layer head counts).
    bool is_array(const std::string & key) const;

  private:
    // One mapped file: the model itself, or one split of a model written by llama-gguf-split
    // (`name-00001-of-00003.gguf` ...; the first holds the metadata, each holds some of the tensors).
    struct Part {
        gguf_context * gguf = nullptr;
        ggml_context * meta = nullptr;
        const uint8_t * map = nullptr;
        size_t map_size = 0;
        size_t data_offset = 0;
    };
    static bool open_part(const std::string & path, Part & part, std::string & err);
    GgufWeights() = default;
    std::vector<Part> parts_;
    gguf_context * gguf_ = nullptr;  // parts_[0]'s: the model's metadata
};

}  // namespace dep::grad
