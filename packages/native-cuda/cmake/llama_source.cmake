# Locates (or creates) the llama.cpp source tree: a shallow clone of the git bundle that ships inside
# node-llama-cpp@3.21.1 (tag v0.4.0). Override with -DDEP_LLAMA_CPP_DIR=/path/to/llama.cpp.
set(DEP_LLAMA_CPP_TAG "v0.4.0")
set(DEP_LLAMA_CPP_DIR "${CMAKE_CURRENT_SOURCE_DIR}/build-deps/llama.cpp" CACHE PATH "llama.cpp source tree")

if(NOT EXISTS "${DEP_LLAMA_CPP_DIR}/CMakeLists.txt")
  set(_bundle "")
  foreach(_candidate
      "${CMAKE_CURRENT_SOURCE_DIR}/node_modules/node-llama-cpp/llama/gitRelease.bundle"
      "${CMAKE_CURRENT_SOURCE_DIR}/../../node_modules/node-llama-cpp/llama/gitRelease.bundle")
    if(EXISTS "${_candidate}")
      set(_bundle "${_candidate}")
      break()
    endif()
  endforeach()
  if(NOT _bundle)
    message(FATAL_ERROR "llama.cpp sources not found. Run `pnpm install` first (it brings node-llama-cpp@3.21.1, "
      "whose llama/gitRelease.bundle holds llama.cpp ${DEP_LLAMA_CPP_TAG}), or pass -DDEP_LLAMA_CPP_DIR=<llama.cpp tree>.")
  endif()
  find_package(Git REQUIRED)
  message(STATUS "dep: cloning llama.cpp ${DEP_LLAMA_CPP_TAG} from ${_bundle}")
  get_filename_component(_parent "${DEP_LLAMA_CPP_DIR}" DIRECTORY)
  file(MAKE_DIRECTORY "${_parent}")
  # clone into a temporary folder and rename, so an interrupted clone never looks complete
  file(REMOVE_RECURSE "${DEP_LLAMA_CPP_DIR}.tmp")
  execute_process(
    COMMAND ${GIT_EXECUTABLE} -c advice.detachedHead=false clone -q --depth 1 "${_bundle}" "${DEP_LLAMA_CPP_DIR}.tmp"
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "dep: git clone of ${_bundle} failed (${_rc})")
  endif()
  file(RENAME "${DEP_LLAMA_CPP_DIR}.tmp" "${DEP_LLAMA_CPP_DIR}")
endif()
