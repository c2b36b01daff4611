#include "log_capture.h"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "llama.h"

namespace dep {
namespace {

std::mutex g_mutex;
std::deque<std::string> g_errors;
std::string g_partial;
bool g_echo = false;

void on_log(ggml_log_level level, const char * text, void *) {
    if (g_echo) std::fputs(text, stderr);
    if (level != GGML_LOG_LEVEL_ERROR && level != GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_CONT) return;
    std::lock_guard<std::mutex> lock(g_mutex);
    if (level == GGML_LOG_LEVEL_CONT && g_partial.empty()) return;
    g_partial += text;
    if (!g_partial.empty() && g_partial.back() == '\n') {
        g_partial.pop_back();
        if (level != GGML_LOG_LEVEL_WARN) g_errors.push_back(g_partial);
        g_partial.clear();
        while (g_errors.size() > 8) g_errors.pop_front();
    }
}

}  // namespace

void install_log_capture() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char * env = std::getenv("DEP_LLAMA_LOG");
        g_echo = env != nullptr && env[0] == '1';
        llama_log_set(on_log, nullptr);
        llama_backend_init();
    });
}

std::string take_logged_errors() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::string out;
    for (const auto & line : g_errors) {
        if (!out.empty()) out += "; ";
        out += line;
    }
    g_errors.clear();
    return out;
}

}  // namespace dep
