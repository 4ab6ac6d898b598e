/* io_fmt.c — line formatting for the tests/mcu programs (see mcu_io.h). No libc: the same
 * integer and double operations on the host and on the Cortex-M4 (soft double there), so a
 * float prints as the same text on both exactly when its bits are equal. */
#include "mcu_io.h"

static char line[160];
static unsigned len;

static void put(char c) {
  if (len < sizeof line - 1) line[len++] = c;
}

void out_str(const char *s) {
  while (*s) put(*s++);
}

static void out_uint(unsigned long v, int min_digits) {
  char d[24];
  int k = 0;
  do {
    d[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v || k < min_digits);
  while (k) put(d[--k]);
}

void out_int(long v) {
  if (v < 0) {
    put('-');
    out_uint(0ul - (unsigned long)v, 1);
  } else {
    out_uint((unsigned long)v, 1);
  }
}

void out_hex(uint32_t v) {
  for (int s = 28; s >= 0; s -= 4) put("0123456789abcdef"[(v >> s) & 15]);
}

uint32_t float_bits(float v) {
  union {
    float f;
    uint32_t u;
  } c = {v};
  return c.u;
}

/* Nine significant digits: enough to tell any two floats apart. */
void out_float(float v) {
  const uint32_t b = float_bits(v);
  put('0'), put('x'), out_hex(b), put(' ');
  if ((b & 0x7f800000u) == 0x7f800000u) {
    out_str((b & 0x007fffffu) ? "nan" : (b >> 31) ? "-inf" : "inf");
    return;
  }
  double d = v;
  if (d < 0) put('-'), d = -d;
  int e = 0;
  if (d != 0) {
    while (d >= 10.0) d /= 10.0, e++;
    while (d < 1.0) d *= 10.0, e--;
  }
  unsigned long digits = (unsigned long)(d * 1e8 + 0.5);
  if (digits >= 1000000000ul) digits /= 10, e++;
  out_uint(digits / 100000000ul, 1);
  put('.');
  out_uint(digits % 100000000ul, 8);
  put('e'), put(e < 0 ? '-' : '+');
  out_uint((unsigned long)(e < 0 ? -e : e), 2);
}

void out_nl(void) {
  line[len++] = '\n';
  line[len] = '\0';
  io_write(line);
  len = 0;
}
