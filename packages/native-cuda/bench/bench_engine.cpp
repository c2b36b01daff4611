// bench_engine — the training engine's step (dep_grad_engine_loss_and_grad) timed from C++, for machines
// without Node (a GPU box's host CPU) and for models that cannot travel: `--synthetic` writes a GGUF of
// TinyLlama-1.1B's shape (or a given one) with random weights, whose step costs what the real model's does
// (the same matrix shapes; the values change only the loss). The rows are `pnpm bench:engine`'s native
// rows: 16 prompt tokens, 16 soft rows, the rest of the prompt, 129 targets; one child process per row,
// so that each row's peak memory is its own. Figures are printed, never asserted.
//
//   bench_engine --threads N (--model file.gguf | --synthetic [tinyllama | key=value,...]) [--weights f16|q8_0]
//                [--synthetic-file path.gguf] [--positions 384,1024,3072] [--dtypes f32,bf16] [--json]
//
// Synthetic shape keys: embd, layers, heads, kv, ff, vocab (defaults: TinyLlama's 2048, 22, 32, 4, 5632,
// 32000). The file goes to $TMPDIR (or /tmp) and is deleted at the end, or to --synthetic-file and is kept
// (a later run can take it as --model).
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dep/grad_engine.h"
#include "ggml.h"
#include "gguf.h"

extern char ** environ;

namespace {

constexpr int kSoftRows = 16, kTargets = 129, kHeadTokens = 16;

const char * const kUsage =
    "usage: bench_engine --threads N (--model file.gguf | --synthetic [tinyllama | embd=,layers=,heads=,kv=,ff=,vocab=])\n"
    "                    [--weights f16|q8_0] [--synthetic-file path.gguf] [--positions 384,1024,3072]\n"
    "                    [--dtypes f32,bf16] [--json]\n";

[[noreturn]] void fail(const std::string & message) {
    std::fprintf(stderr, "bench_engine: %s\n", message.c_str());
    std::exit(2);
}

struct Shape {
    int64_t embd = 2048, layers = 22, heads = 32, kv = 4, ff = 5632, vocab = 32000;
};

struct Args {
    int threads = 0;
    std::string model, synthetic, synthetic_file, weights = "f16", positions = "384,1024,3072", dtypes = "f32,bf16";
    std::string row;
    bool json = false;
};

std::vector<std::string> split(const std::string & s, char sep) {
    std::vector<std::string> out;
    size_t a = 0;
    while (a <= s.size()) {
        const size_t b = std::min(s.find(sep, a), s.size());
        if (b > a) out.push_back(s.substr(a, b - a));
        a = b + 1;
    }
    return out;
}

int64_t parse_int(const std::string & text, const std::string & what) {
    char * end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v <= 0) fail(what + ": expected a positive integer, got '" + text + "'");
    return v;
}

Args parse_args(int argc, char ** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fail(k + " needs a value");
            return argv[++i];
        };
        if (k == "--threads") a.threads = static_cast<int>(parse_int(value(), "--threads"));
        else if (k == "--model") a.model = value();
        else if (k == "--synthetic") a.synthetic = (i + 1 < argc && argv[i + 1][0] != '-') ? value() : "tinyllama";
        else if (k == "--weights") a.weights = value();
        else if (k == "--positions") a.positions = value();
        else if (k == "--dtypes") a.dtypes = value();
        else if (k == "--row") a.row = value();
        else if (k == "--json") a.json = true;
        else if (k == "--synthetic-file") a.synthetic_file = value();
        else if (k == "--help" || k == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else
            fail("unknown option " + k + "\n" + kUsage);
    }
    if (a.threads <= 0) fail("--threads N is required (the thread count decides the figures; say it)");
    if (a.model.empty() == a.synthetic.empty()) fail("give exactly one of --model file.gguf and --synthetic");
    if (!a.synthetic_file.empty() && a.synthetic.empty()) fail("--synthetic-file goes with --synthetic");
    if (a.weights != "f16" && a.weights != "q8_0") fail("--weights: f16 or q8_0, got '" + a.weights + "'");
    for (const std::string & p : split(a.positions, ','))
        if (parse_int(p, "--positions") < kTargets + kHeadTokens + kSoftRows)
            fail("--positions: each must be >= " + std::to_string(kTargets + kHeadTokens + kSoftRows));
    for (const std::string & d : split(a.dtypes, ','))
        if (d != "f32" && d != "bf16") fail("--dtypes: f32 and/or bf16, got '" + d + "'");
    return a;
}

Shape parse_shape(const std::string & spec) {
    Shape s;
    if (spec == "tinyllama") return s;
    std::map<std::string, int64_t *> keys = {{"embd", &s.embd}, {"layers", &s.layers}, {"heads", &s.heads},
                                             {"kv", &s.kv},     {"ff", &s.ff},         {"vocab", &s.vocab}};
    for (const std::string & kv : split(spec, ',')) {
        const size_t eq = kv.find('=');
        const auto it = keys.find(kv.substr(0, eq));
        if (eq == std::string::npos || it == keys.end())
            fail("--synthetic: '" + kv + "' is not key=value with key embd, layers, heads, kv, ff or vocab");
        *it->second = parse_int(kv.substr(eq + 1), "--synthetic " + it->first);
    }
    if (s.embd % s.heads || s.heads % s.kv || (s.embd / s.heads) % 2 || s.embd % 32 || s.ff % 32)
        fail("--synthetic: heads must divide embd, kv divide heads, the head size be even, embd and ff multiples of 32");
    return s;
}

// ---- the synthetic model ---------------------------------------------------------------------------------

// xorshift64: cheap enough for 1.1e9 values, reproducible for a seed
struct Xorshift {
    uint64_t x;
    uint64_t next() {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        return x;
    }
};

// Uniform in [-a, a) with a = sqrt(3) * stddev (the variance of N(0, stddev^2)), one generator per row.
void random_row(float * dst, int64_t n, uint64_t seed, float stddev) {
    Xorshift rng{seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    const float a = std::sqrt(3.0f) * stddev;
    for (int64_t i = 0; i < n; ++i) dst[i] = a * (static_cast<float>(rng.next() >> 40) * (2.0f / 16777216.0f) - 1.0f);
}

// Writes a llama-architecture GGUF of shape s: matrices in wtype with N(0, 0.02)-like values, norms 1, a
// tied output (no output.weight). Streams one tensor at a time; written to path + ".part", then renamed.
void write_synthetic(const std::string & path, const Shape & s, ggml_type wtype, int threads) {
    struct TensorSpec {
        std::string name;
        int64_t ne0, ne1;  // ne1 == 0: a vector
    };
    const int64_t hd = s.embd / s.heads;
    std::vector<TensorSpec> specs = {{"token_embd.weight", s.embd, s.vocab}, {"output_norm.weight", s.embd, 0}};
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        specs.push_back({p + "attn_norm.weight", s.embd, 0});
        specs.push_back({p + "attn_q.weight", s.embd, s.embd});
        specs.push_back({p + "attn_k.weight", s.embd, s.kv * hd});
        specs.push_back({p + "attn_v.weight", s.embd, s.kv * hd});
        specs.push_back({p + "attn_output.weight", s.embd, s.embd});
        specs.push_back({p + "ffn_norm.weight", s.embd, 0});
        specs.push_back({p + "ffn_gate.weight", s.embd, s.ff});
        specs.push_back({p + "ffn_up.weight", s.embd, s.ff});
        specs.push_back({p + "ffn_down.weight", s.ff, s.embd});
    }
    ggml_init_params ip{ggml_tensor_overhead() * (specs.size() + 1), nullptr, true};
    ggml_context * meta = ggml_init(ip);
    gguf_context * g = gguf_init_empty();
    gguf_set_val_str(g, "general.architecture", "llama");
    gguf_set_val_str(g, "general.name", "dep synthetic (random weights)");
    gguf_set_val_u32(g, "llama.embedding_length", static_cast<uint32_t>(s.embd));
    gguf_set_val_u32(g, "llama.block_count", static_cast<uint32_t>(s.layers));
    gguf_set_val_u32(g, "llama.attention.head_count", static_cast<uint32_t>(s.heads));
    gguf_set_val_u32(g, "llama.attention.head_count_kv", static_cast<uint32_t>(s.kv));
    gguf_set_val_u32(g, "llama.feed_forward_length", static_cast<uint32_t>(s.ff));
    gguf_set_val_u32(g, "llama.context_length", 4096);
    gguf_set_val_u32(g, "llama.rope.dimension_count", static_cast<uint32_t>(hd));
    gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_set_val_f32(g, "llama.rope.freq_base", 10000.0f);
    for (const TensorSpec & t : specs) {
        ggml_tensor * x = t.ne1 ? ggml_new_tensor_2d(meta, wtype, t.ne0, t.ne1)
                                : ggml_new_tensor_1d(meta, GGML_TYPE_F32, t.ne0);
        ggml_set_name(x, t.name.c_str());
        gguf_add_tensor(g, x);
    }
    const std::string part = path + ".part";
    FILE * f = std::fopen(part.c_str(), "wb");
    if (!f) fail("cannot write " + part + ": " + std::strerror(errno));
    bool ok = gguf_write_to_file_ptr(g, f, /*only_meta=*/true);
    const size_t align = gguf_get_alignment(g);
    std::vector<float> rows;
    std::vector<uint8_t> data;
    for (size_t i = 0; ok && i < specs.size(); ++i) {
        const TensorSpec & t = specs[i];
        const int64_t n_rows = std::max<int64_t>(t.ne1, 1);
        rows.resize(static_cast<size_t>(t.ne0 * n_rows));
        if (t.ne1) {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t r = 0; r < n_rows; ++r)
                random_row(rows.data() + r * t.ne0, t.ne0, (static_cast<uint64_t>(i) << 32) + static_cast<uint64_t>(r),
                           0.02f);
            data.resize(ggml_row_size(wtype, t.ne0) * static_cast<size_t>(n_rows));
            ggml_quantize_chunk(wtype, rows.data(), data.data(), 0, n_rows, t.ne0, nullptr);
        } else {
            std::fill(rows.begin(), rows.end(), 1.0f);
            data.assign(reinterpret_cast<const uint8_t *>(rows.data()),
                        reinterpret_cast<const uint8_t *>(rows.data() + rows.size()));
        }
        data.resize((data.size() + align - 1) / align * align, 0);  // the next tensor starts aligned
        ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    }
    ok = (std::fclose(f) == 0) && ok;
    gguf_free(g);
    ggml_free(meta);
    if (!ok || std::rename(part.c_str(), path.c_str()) != 0) {
        std::remove(part.c_str());
        fail("writing " + path + " failed (disk full?)");
    }
}

// ---- one row (the child) ---------------------------------------------------------------------------------

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string json_string(const std::string & s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out + "\"";
}

// Loads the engine, runs the step twice (the first call includes the load), prints one JSON row.
int run_row(const Args & a) {
    const std::vector<std::string> parts = split(a.row, ':');
    if (parts.size() != 2 || (parts[0] != "f32" && parts[0] != "bf16")) fail("--row: dtype:positions");
    const bool bf16 = parts[0] == "bf16";
    const int64_t positions = parse_int(parts[1], "--row positions");
    const int64_t n_prompt = positions - kTargets + 1, n_tail = n_prompt - kHeadTokens - kSoftRows;
    if (n_tail < 1) fail("positions must be >= " + std::to_string(kTargets + kHeadTokens + kSoftRows));

    dep_grad_engine_params p = dep_grad_engine_default_params();
    p.n_threads = a.threads;
    p.dtype = bf16 ? DEP_GRAD_ENGINE_BF16 : DEP_GRAD_ENGINE_F32;
    char err[4096] = "";
    const double t0 = now_ms();
    dep_grad_engine * e = dep_grad_engine_load(a.model.c_str(), p, err, sizeof(err));
    if (!e) fail(err);
    const dep_grad_engine_info info = dep_grad_engine_get_info(e);

    // token ids and soft rows: any values cost the same; fixed so that runs compare
    std::vector<int32_t> tokens(static_cast<size_t>(kHeadTokens + n_tail + kTargets));
    Xorshift rng{88172645463325252ull};
    for (auto & t : tokens) t = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(info.n_vocab));
    std::vector<float> soft(static_cast<size_t>(kSoftRows * info.n_embd)), grad(soft.size());
    random_row(soft.data(), static_cast<int64_t>(soft.size()), 3, 0.02f);
    const dep_segment segments[3] = {{tokens.data(), nullptr, kHeadTokens},
                                     {nullptr, soft.data(), kSoftRows},
                                     {tokens.data() + kHeadTokens, nullptr, static_cast<int32_t>(n_tail)}};
    const int32_t * targets = tokens.data() + kHeadTokens + n_tail;
    float * grads[1] = {grad.data()};
    float loss = 0;
    dep_grad_engine_stats st{};
    double first_ms = 0;
    for (int call = 0; call < 2; ++call) {
        if (dep_grad_engine_loss_and_grad(e, segments, 3, targets, kTargets, &loss, grads, &st, err, sizeof(err)) != 0)
            fail(err);
        if (call == 0) first_ms = now_ms() - t0;  // load + the first step
    }
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    std::printf("{\"engine\":\"native\",\"dtype\":\"%s\",\"device\":\"cpu\",\"positions\":%d,\"softRows\":%d,"
                "\"targets\":%d,\"firstCallMs\":%.0f,\"loadMs\":%.0f,\"stepMs\":%.0f,\"matmulMs\":%.0f,"
                "\"attentionMs\":%.0f,\"peakRssBytes\":%lld,\"weightBytes\":%zu,\"activationBytes\":%zu,"
                "\"recomputedLayers\":%d,\"loss\":%.6f,\"matmul\":%s}\n",
                parts[0].c_str(), st.n_positions, kSoftRows, st.n_targets, first_ms, info.load_ms, st.compute_ms,
                st.matmul_ms, st.attention_ms, static_cast<long long>(u.ru_maxrss) * 1024, info.weight_bytes,
                st.activation_bytes, st.n_recomputed, static_cast<double>(loss),
                json_string(dep_grad_engine_matmul_name()).c_str());
    dep_grad_engine_free(e);
    return 0;
}

// ---- the parent ------------------------------------------------------------------------------------------

// The synthetic model's path, removed when the bench is interrupted (a TinyLlama-shaped file is 2.2 GB).
char g_synthetic_path[4096] = "";
void remove_synthetic_and_exit(int sig) {
    if (g_synthetic_path[0]) unlink(g_synthetic_path);
    (void)sig;
    _exit(130);
}

// Runs this binary with extra arguments; returns its stdout ("" when it failed).
std::string run_child(const std::vector<std::string> & args) {
    int fd[2];
    if (pipe(fd) != 0) fail("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    std::vector<char *> argv;
    for (const std::string & s : args) argv.push_back(const_cast<char *>(s.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = read(fd[0], buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
    close(fd[0]);
    int status = 0;
    if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return "";
    return out;
}

double json_number(const std::string & row, const std::string & key) {
    const size_t at = row.find("\"" + key + "\":");
    return at == std::string::npos ? NAN : std::strtod(row.c_str() + at + key.size() + 3, nullptr);
}

std::string cpu_model() {
    std::string model = "unknown";
    if (FILE * f = std::fopen("/proc/cpuinfo", "r")) {
        char line[512];
        while (std::fgets(line, sizeof(line), f)) {
            if (std::strncmp(line, "model name", 10) != 0) continue;
            const char * colon = std::strchr(line, ':');
            if (colon) model = std::string(colon + 2, std::strcspn(colon + 2, "\n"));
            break;
        }
        std::fclose(f);
    }
    return model;
}

int run_all(const Args & a, const char * self) {
    std::string model = a.model, described = a.model;
    if (!a.synthetic.empty()) {
        const Shape s = parse_shape(a.synthetic);
        const char * tmp = std::getenv("TMPDIR");
        model = !a.synthetic_file.empty()
                    ? a.synthetic_file
                    : std::string(tmp && *tmp ? tmp : "/tmp") + "/dep-bench-synthetic-" + std::to_string(getpid()) + ".gguf";
        if (a.synthetic_file.empty()) {
            std::snprintf(g_synthetic_path, sizeof(g_synthetic_path), "%s", model.c_str());
            signal(SIGINT, remove_synthetic_and_exit);
            signal(SIGTERM, remove_synthetic_and_exit);
        }
        const double t0 = now_ms();
        write_synthetic(model, s, a.weights == "q8_0" ? GGML_TYPE_Q8_0 : GGML_TYPE_F16, a.threads);
        char text[256];
        std::snprintf(text, sizeof(text),
                      "synthetic llama (random %s weights): embd %lld, layers %lld, heads %lld/%lld, ff %lld, vocab %lld",
                      a.weights.c_str(), static_cast<long long>(s.embd), static_cast<long long>(s.layers),
                      static_cast<long long>(s.heads), static_cast<long long>(s.kv), static_cast<long long>(s.ff),
                      static_cast<long long>(s.vocab));
        described = text;
        std::fprintf(stderr, "wrote %s in %.1f s: %s\n", model.c_str(), (now_ms() - t0) / 1000, text);
    }
    const std::string threads = std::to_string(a.threads);
    const double probe_bf16 = dep_grad_engine_gemm_probe(DEP_GRAD_ENGINE_BF16, 384, 2048, 5632, a.threads);
    const double probe_f32 = dep_grad_engine_gemm_probe(DEP_GRAD_ENGINE_F32, 384, 2048, 5632, a.threads);
    std::fprintf(stderr, "matmul: %s; FFN-shape probe bf16 %.3f, f32 %.3f TFLOP/s\n", dep_grad_engine_matmul_name(),
                 probe_bf16, probe_f32);
    std::vector<std::string> rows;
    bool any_failed = false;
    for (const std::string & positions : split(a.positions, ',')) {
        for (const std::string & dtype : split(a.dtypes, ',')) {
            const bool bf16 = dtype == "bf16";
            if (!dep_grad_engine_supports(bf16 ? DEP_GRAD_ENGINE_BF16 : DEP_GRAD_ENGINE_F32)) {
                std::fprintf(stderr, "native %s: not available here (%s), skipped\n", dtype.c_str(),
                             dep_grad_engine_matmul_name());
                continue;
            }
            std::fprintf(stderr, "native %s %s positions ...\n", dtype.c_str(), positions.c_str());
            const std::string out = run_child(
                {self, "--row", dtype + ":" + positions, "--threads", threads, "--model", model});
            const size_t brace = out.rfind("{\"engine\"");
            if (brace == std::string::npos) {
                std::fprintf(stderr, "  failed (its message is above)\n");
                any_failed = true;
                rows.push_back("{\"engine\":\"native\",\"dtype\":\"" + dtype + "\",\"device\":\"cpu\",\"positions\":" +
                               positions + ",\"error\":\"the row's process failed\"}");
                continue;
            }
            const std::string row = out.substr(brace, out.find('\n', brace) - brace);
            rows.push_back(row);
        }
    }
    if (!a.synthetic.empty() && a.synthetic_file.empty()) std::remove(model.c_str());
    if (a.json) {
        // the probe's -1 (dtype not available here) as null, as pnpm bench:engine writes it
        const auto tflops = [](double t) {
            char text[32] = "null";
            if (t > 0) std::snprintf(text, sizeof(text), "%.3f", t);
            return std::string(text);
        };
        std::printf("{\"cpu\":%s,\"threads\":%d,\"matmul\":%s,\"model\":%s,\"gemmProbeTflops\":{\"bf16\":%s,"
                    "\"f32\":%s},\"rows\":[",
                    json_string(cpu_model()).c_str(), a.threads, json_string(dep_grad_engine_matmul_name()).c_str(),
                    json_string(described).c_str(), tflops(probe_bf16).c_str(), tflops(probe_f32).c_str());
        for (size_t i = 0; i < rows.size(); ++i) std::printf("%s%s", i ? "," : "", rows[i].c_str());
        std::printf("]}\n");
        return any_failed ? 1 : 0;
    }
    std::printf("%s, %d threads, matmul %s\n%s\n", cpu_model().c_str(), a.threads, dep_grad_engine_matmul_name(),
                described.c_str());
    std::printf("| dtype | positions | first call (load) | step | (matmul / attention) | peak RSS | held: weights + "
                "activations | loss |\n|---|---|---|---|---|---|---|---|\n");
    for (const std::string & r : rows) {
        const std::string dtype = r.find("\"bf16\"") != std::string::npos ? "bf16" : "f32";
        if (r.find("\"error\"") != std::string::npos) {
            std::printf("| %s | %.0f | failed | | | | | |\n", dtype.c_str(), json_number(r, "positions"));
            continue;
        }
        const double mib = 1024.0 * 1024.0, recomputed = json_number(r, "recomputedLayers");
        std::printf("| %s | %.0f | %.2f s (%.2f s) | %.2f s | %.2f / %.2f s | %.0f MiB | %.0f MiB + %.0f MiB", dtype.c_str(),
                    json_number(r, "positions"), json_number(r, "firstCallMs") / 1000, json_number(r, "loadMs") / 1000,
                    json_number(r, "stepMs") / 1000, json_number(r, "matmulMs") / 1000,
                    json_number(r, "attentionMs") / 1000, json_number(r, "peakRssBytes") / mib,
                    json_number(r, "weightBytes") / mib, json_number(r, "activationBytes") / mib);
        if (recomputed > 0) std::printf(" (%.0f layers recomputed)", recomputed);
        std::printf(" | %.5f |\n", json_number(r, "loss"));
    }
    return any_failed ? 1 : 0;
}

}  // namespace

int main(int argc, char ** argv) {
    const Args a = parse_args(argc, argv);
    return a.row.empty() ? run_all(a, argv[0]) : run_row(a);
}
