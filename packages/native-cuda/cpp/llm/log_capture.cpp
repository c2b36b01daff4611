#include "log_capture.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>

#include "llama.h"

namespace dep {
namespace {

std::mutex g_mutex;
std::deque<std::string> g_errors;
std::string g_partial;
bool g_echo = false;
thread_local bool t_capture_buffers = false;
thread_local std::vector<std::pair<std::string, double>> t_buffers;

// "load_tensors:   CPU_REPACK model buffer size =     4.50 MiB" -> ("CPU_REPACK", 4.5 MiB in bytes)
void capture_buffer_line(const char * text) {
    const char * colon = std::strchr(text, ':');
    const char * mark = std::strstr(text, " model buffer size = ");
    if (!colon || !mark || mark < colon) return;
    std::string name(colon + 1, mark);
    name.erase(0, name.find_first_not_of(' '));
    const double mib = std::strtod(mark + std::strlen(" model buffer size = "), nullptr);
    if (!name.empty()) t_buffers.emplace_back(name, mib * 1024.0 * 1024.0);
}

void on_log(ggml_log_level level, const char * text, void *) {
    if (g_echo) std::fputs(text, stderr);
    if (t_capture_buffers && level == GGML_LOG_LEVEL_INFO && text) capture_buffer_line(text);
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

void begin_buffer_capture() {
    t_buffers.clear();
    t_capture_buffers = true;
}

std::vector<std::pair<std::string, double>> take_buffer_capture() {
    t_capture_buffers = false;
    return std::move(t_buffers);
}

}  // namespace dep
