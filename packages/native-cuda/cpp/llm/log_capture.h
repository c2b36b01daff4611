// Routes llama.cpp/ggml log output: silent unless DEP_LLAMA_LOG=1, but the last error lines are kept so
// that a failed load can say why.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dep {

// Installs the log hook once (idempotent, thread-safe).
void install_log_capture();

// The error/warning lines logged since the last call, joined with "; " (and cleared).
std::string take_logged_errors();

// Model weight buffers as llama.cpp reports them while loading ("CPU_REPACK model buffer size = 4.5 MiB"):
// begin on the loading thread, load, then take the (name, bytes) pairs logged on that thread meanwhile.
void begin_buffer_capture();
std::vector<std::pair<std::string, double>> take_buffer_capture();

}  // namespace dep
