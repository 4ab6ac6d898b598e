/* Naive baseline: triple loops in i-k-j order (the vectorisable one; j innermost and
 * contiguous), every size a compile-time constant after inlining. Built with
 * -O3 -march=native and no fast-math, so the compiler may not reorder float sums. */
#include "basenet.h"
#include "baselines.h"
#include "naive_prod.h"

#define STEP_INLINE BN_AI
#define STEP_TABLE naive_impl
#include "basenet_step.h"
