/* The generated headers under every C standard they promise (make test-cxx compiles this
   with -std=c99, c11 and c17, -Wall -Wextra -Wpedantic -Werror, gcc and clang): the
   alignment spelling, the types and the declarations, several networks in one unit. */
#include "mnist_scalar.h"
#include "mnist_avx2.h"
#include "mnist_avx512.h"
#include "seed_scalar.h"
#include "seed_avx2.h"
#include "xor.h"
#include "mnist_infer.h"

int main(void) {
  static mnist_avx512_params p;
  static seed_avx2_work w;
  return (int)(sizeof p + sizeof w) % 64 + xor_tensors[0].rows - XOR_IN + (int)sizeof mnist_infer_weights % 64;
}
