/* same_libm.h — one expf and logf for the host and the Cortex-M4 (same_libm.c). The "same
 * libm" builds of tests/mcu bind the generated object's expf/logf calls to these with
 * `objcopy --redefine-sym expf=same_expf --redefine-sym logf=same_logf`, instead of glibc's
 * and newlib's, which differ in the last bit for some arguments. With those two equal, the
 * generated code must give identical bits on both. */
float same_expf(float x);
float same_logf(float x);
