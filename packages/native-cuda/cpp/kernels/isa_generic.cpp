// generic build of isa_kernels.inc (GEMM micro-kernel 4x8, epilogues, row ops, AdamW).
// Compiled with this ISA's flags only (see CMakeLists.txt); called only when the CPU supports it.
#define DEP_VL 4
#define DEP_MR 4
#define DEP_ISA_NAME "generic"
#define DEP_OPS_FN isa_ops_generic
#include "isa_kernels.inc"
