// JS errors with a machine-readable `code`, shared by every binding.
#pragma once

#include <napi.h>

#include <string>

namespace dep_addon {

inline Napi::Error make_error(Napi::Env env, const char * code, const std::string & message) {
    Napi::Error e = Napi::Error::New(env, message);
    e.Set("code", Napi::String::New(env, code));
    return e;
}

inline Napi::Error type_error(Napi::Env env, const std::string & message) {
    Napi::Error e = Napi::TypeError::New(env, message);
    e.Set("code", Napi::String::New(env, "DEP_INVALID_ARGUMENT"));
    return e;
}

// Reads an optional integer option, throwing a coded TypeError on a wrong type.
inline int32_t int_option(const Napi::Object & opts, const char * name, int32_t fallback) {
    Napi::Value v = opts.Get(name);
    if (v.IsUndefined() || v.IsNull()) return fallback;
    if (!v.IsNumber()) throw type_error(opts.Env(), std::string("option `") + name + "` must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d)))
        throw type_error(opts.Env(), std::string("option `") + name + "` must be an integer");
    return static_cast<int32_t>(d);
}

inline double number_option(const Napi::Object & opts, const char * name, double fallback) {
    Napi::Value v = opts.Get(name);
    if (v.IsUndefined() || v.IsNull()) return fallback;
    if (!v.IsNumber()) throw type_error(opts.Env(), std::string("option `") + name + "` must be a number");
    return v.As<Napi::Number>().DoubleValue();
}

}  // namespace dep_addon
