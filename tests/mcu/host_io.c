/* host_io.c — mcu_io.h for the host build of the tests/mcu programs: stdout and exit(). */
#include <stdio.h>
#include <stdlib.h>

#include "mcu_io.h"

void io_write(const char *s) { fputs(s, stdout); }

_Noreturn void io_exit(int status) {
  fflush(stdout);
  exit(status);
}

/* Device-only figures (startup.c); the host prints 0 on the "mcu " lines nobody compares. */
uint32_t mcu_stack_used(void) { return 0; }
uint32_t mcu_ram_static(void) { return 0; }
