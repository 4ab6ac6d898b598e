/* CHECK(cond, fmt, ...): a check that reports and counts a failure and goes on, for the
   small test programs that run without Check (tests/inference, tests/dispatch); main returns
   failures != 0. */
#ifndef SOFT_CHECK_H
#define SOFT_CHECK_H

#include <stdio.h>

static int failures = 0;
#define CHECK(cond, ...)            \
  do {                              \
    if (!(cond)) {                  \
      printf("FAIL: " __VA_ARGS__); \
      printf("\n");                 \
      failures++;                   \
    }                               \
  } while (0)

#endif
