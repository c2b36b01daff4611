// avx512 build of isa_kernels.inc (GEMM micro-kernel 12x32, epilogues, row ops, AdamW).
// Compiled with this ISA's flags only (see CMakeLists.txt); called only when the CPU supports it.
#define DEP_VL 16
#define DEP_MR 12
#define DEP_ISA_NAME "avx512"
#define DEP_OPS_FN isa_ops_avx512
#include "isa_kernels.inc"
