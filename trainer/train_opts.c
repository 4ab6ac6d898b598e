/* train_opts.c — what every command takes from its options: the one-line messages (prefixed
 * with the program and command, silent on MPI ranks other than 0) and the seed. Kept apart
 * from train_cli.c, which parses the options and calls the commands, so that the commands
 * do not depend back on the parser. */
#include "train_internal.h"

#include <stdarg.h>
#include <stdio.h>

static void vsay(const opts *o, const char *fmt, va_list ap, const char *tail) {
  if (o->quiet) return;   /* a rank other than 0: rank 0 says it once */
  fprintf(stderr, "%s%s%s: ", o->prog, o->cmdname ? " " : "", o->cmdname ? o->cmdname : "");
  vfprintf(stderr, fmt, ap);
  fputs(tail, stderr);
}

int tr_usage(const opts *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(o, fmt, ap, " (try --help)\n");
  va_end(ap);
  return 2;
}

int tr_fail(const opts *o, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(o, fmt, ap, "\n");
  va_end(ap);
  return rc;
}

uint64_t tr_seed(const opts *o) { return o->seed_set ? o->seed : 1; }
