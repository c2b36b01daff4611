// avx2 build of isa_kernels.inc (GEMM micro-kernel 6x16, epilogues, row ops, AdamW).
// Compiled with this ISA's flags only (see CMakeLists.txt); called only when the CPU supports it.
#define DEP_VL 8
#define DEP_MR 6
#define DEP_ISA_NAME "avx2"
#define DEP_OPS_FN isa_ops_avx2
#include "isa_kernels.inc"
