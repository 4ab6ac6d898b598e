/* semihost.c — mcu_io.h on the Cortex-M4: ARM semihosting (the debugger interface that
 * qemu-system-arm implements with -semihosting-config enable=on). A call is `bkpt 0xab` with
 * the operation in r0 and its argument in r1; the result comes back in r0. */
#include "mcu_io.h"

enum {
  SYS_WRITE0 = 0x04,        /* r1: NUL-terminated string to the console */
  SYS_EXIT_EXTENDED = 0x20, /* r1: {reason, status}, the host exits */
  ADP_STOPPED_APPLICATION_EXIT = 0x20026
};

static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void io_write(const char *s) { semihost(SYS_WRITE0, s); }

_Noreturn void io_exit(int status) {
  const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
  for (;;) semihost(SYS_EXIT_EXTENDED, block);
}
