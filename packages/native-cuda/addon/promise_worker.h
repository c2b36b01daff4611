// The shape every Promise-returning call of the addon shares: Execute() runs on a worker thread (and calls
// SetError to fail), result() builds the value on the JS thread, a failure rejects with an Error carrying
// the worker's `code`. The JS object that owns the native handle the work uses is kept alive meanwhile.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "errors.h"
#include "segments.h"

namespace dep_addon {

constexpr size_t kErrSize = 2048;  // the C API's error buffers

class PromiseWorker : public Napi::AsyncWorker {
  public:
    // Queues the worker (it deletes itself when done) and returns its promise.
    Napi::Promise queue() {
        Napi::Promise p = deferred_.Promise();
        Queue();
        return p;
    }

  protected:
    PromiseWorker(Napi::Env env, const char * code, Napi::Object owner = Napi::Object())
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), code_(code) {
        if (!owner.IsEmpty()) owner_ = Napi::Persistent(owner);
    }
    virtual Napi::Value result(Napi::Env env) = 0;
    // On the JS thread before the promise settles either way (e.g. to clear a busy flag).
    virtual void settled() {}
    // Set by Execute() when the call was aborted: the promise rejects with DEP_ABORTED and this message.
    std::string aborted_;

  private:
    void OnOK() override {
        settled();
        Napi::Env env = Env();
        if (!aborted_.empty())
            deferred_.Reject(make_error(env, "DEP_ABORTED", aborted_).Value());
        else
            deferred_.Resolve(result(env));
    }
    void OnError(const Napi::Error & e) override {
        settled();
        deferred_.Reject(make_error(Env(), code_, e.Message()).Value());
    }

    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference owner_;
    const char * code_;
};

// lossAndGrad on either gradient source (the ggml graph of a dep_llm, or a dep_grad_engine): the segments
// and targets copied out of JS, one gradient buffer per embeddings segment, and the result object's common
// fields; run() is the C call, add_stats() the source's own timings.
class LossAndGradWorker : public PromiseWorker {
  protected:
    LossAndGradWorker(Napi::Env env, Napi::Object owner, Segments segs, std::vector<int32_t> targets, int32_t n_embd)
        : PromiseWorker(env, "DEP_GRAD", owner), segs_(std::move(segs)), targets_(std::move(targets)), n_embd_(n_embd) {}
    // returns 0, 2 (aborted) or -1 (err filled)
    virtual int32_t run(const std::vector<dep_segment> & segs, char * err, size_t err_size) = 0;
    virtual void add_stats(Napi::Object & o) const = 0;

    std::vector<int32_t> targets_;
    SoftGrads grads_;
    float loss_ = 0.0f;

  private:
    void Execute() override {
        std::vector<dep_segment> segs = segs_.view(n_embd_);
        grads_.prepare(segs_);
        char err[kErrSize] = {0};
        const int32_t rc = run(segs, err, sizeof(err));
        if (rc == -1) SetError(err);
        if (rc == 2) aborted_ = "lossAndGrad was aborted";
    }
    Napi::Value result(Napi::Env env) override {
        Napi::Object o = Napi::Object::New(env);
        o.Set("loss", static_cast<double>(loss_));
        o.Set("grads", grads_.to_js(env));
        add_stats(o);
        return o;
    }

    Segments segs_;
    int32_t n_embd_;
};

}  // namespace dep_addon
