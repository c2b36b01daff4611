// Prompt segments copied out of JS for a worker thread (which must not touch JS memory), shared by the
// NativeLlm and NativeGradEngine bindings.
#pragma once

#include <napi.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dep/llm.h"
#include "errors.h"

namespace dep_addon {

// Segments copied out of JS (the worker thread must not touch JS memory).
struct Segments {
    std::vector<std::vector<int32_t>> tokens;
    std::vector<std::vector<float>> embd;
    std::vector<bool> is_embd;

    std::vector<dep_segment> view(int32_t n_embd) const {
        std::vector<dep_segment> segs(is_embd.size());
        for (size_t i = 0; i < segs.size(); ++i) {
            if (is_embd[i]) {
                segs[i].embd = embd[i].data();
                segs[i].n = static_cast<int32_t>(embd[i].size() / static_cast<size_t>(n_embd));
            } else {
                segs[i].tokens = tokens[i].data();
                segs[i].n = static_cast<int32_t>(tokens[i].size());
            }
        }
        return segs;
    }
};

inline Segments parse_segments(Napi::Env env, const Napi::Array & segs, int32_t n_embd, const std::string & where) {
    Segments out;
    out.tokens.resize(segs.Length());
    out.embd.resize(segs.Length());
    out.is_embd.assign(segs.Length(), false);
    for (uint32_t i = 0; i < segs.Length(); ++i) {
        const std::string at = where + "segment " + std::to_string(i);
        Napi::Value v = segs.Get(i);
        if (!v.IsObject()) throw type_error(env, at + " must be an object");
        Napi::Object seg = v.As<Napi::Object>();
        Napi::Value t = seg.Get("tokens"), e = seg.Get("embeddings");
        if (t.IsTypedArray() && t.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
            Napi::Int32Array a = t.As<Napi::Int32Array>();
            out.tokens[i].assign(a.Data(), a.Data() + a.ElementLength());
        } else if (e.IsTypedArray() && e.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
            Napi::Float32Array a = e.As<Napi::Float32Array>();
            if (a.ElementLength() % static_cast<size_t>(n_embd) != 0)
                throw type_error(env, at + ": embeddings length " + std::to_string(a.ElementLength()) +
                                          " is not a multiple of the model's embedding width " + std::to_string(n_embd));
            for (size_t j = 0; j < a.ElementLength(); ++j)
                if (!std::isfinite(a[j]))
                    throw type_error(env, at + ": embeddings hold a non-finite value at index " + std::to_string(j));
            out.embd[i].assign(a.Data(), a.Data() + a.ElementLength());
            out.is_embd[i] = true;
        } else {
            throw type_error(env, at + " needs `tokens` (Int32Array) or `embeddings` (Float32Array)");
        }
    }
    return out;
}

// One gradient buffer per embeddings segment, filled by a worker thread, handed to JS as Float32Arrays.
struct SoftGrads {
    std::vector<std::vector<float>> bufs;
    std::vector<float *> ptrs;

    void prepare(const Segments & segs) {
        for (size_t i = 0; i < segs.is_embd.size(); ++i)
            if (segs.is_embd[i]) bufs.emplace_back(segs.embd[i].size(), 0.0f);
        for (auto & g : bufs) ptrs.push_back(g.data());
    }

    Napi::Array to_js(Napi::Env env) const {
        Napi::Array out = Napi::Array::New(env, bufs.size());
        for (size_t i = 0; i < bufs.size(); ++i) {
            Napi::Float32Array a = Napi::Float32Array::New(env, bufs[i].size());
            std::copy(bufs[i].begin(), bufs[i].end(), a.Data());
            out.Set(static_cast<uint32_t>(i), a);
        }
        return out;
    }
};

}  // namespace dep_addon
