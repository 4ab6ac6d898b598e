/* mcu_io.h — the output of the tests/mcu programs, the same text on the Cortex-M4 (under
 * qemu-system-arm, through semihosting: semihost.c) and on the host (host_io.c), so the two
 * runs are compared with cmp. The formatting (io_fmt.c) is plain C shared by both builds. */
#ifndef MCU_IO_H
#define MCU_IO_H

#include <stdint.h>

/* Provided per build: write a NUL-terminated string; end the program with a status. */
void io_write(const char *s);
_Noreturn void io_exit(int status);

/* A line is built in a buffer and written by out_nl. */
void out_str(const char *s);
void out_int(long v);
void out_hex(uint32_t v); /* 8 hex digits */
void out_float(float v);  /* "0x%08x d.dddddddde+XX": bit pattern, then 9 digits */
void out_nl(void);

uint32_t float_bits(float v);

/* Device only (startup.c): the deepest stack use so far in bytes (the stack is painted at
 * reset) and the bytes of .data + .bss. Lines that print them start with "mcu " and are left
 * out of the host comparison. */
uint32_t mcu_stack_used(void);
uint32_t mcu_ram_static(void);

#endif
