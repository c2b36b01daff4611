// Routes llama.cpp/ggml log output: silent unless DEP_LLAMA_LOG=1, but the last error lines are kept so
// that a failed load can say why.
#pragma once

#include <string>

namespace dep {

// Installs the log hook once (idempotent, thread-safe).
void install_log_capture();

// The error/warning lines logged since the last call, joined with "; " (and cleared).
std::string take_logged_errors();

}  // namespace dep
