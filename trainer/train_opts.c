/* train_opts.c — what every command takes from its options: the one-line messages (prefixed
 * with the program and command, silent on MPI ranks other than 0) and the seed. Kept apart
 * from train_cli.c, which parses the options and calls the commands, so that the commands
 * do not depend back on the parser. */
#include "train_internal.h"

#include <stdarg.h>
#include <stdio.h>

/* The line goes out in one write where it fits the buffer: processes that share stderr (the
   ranks of an mpirun that each refuse the same way) then print whole lines, not pieces of
   each other's (seen: "prog train: prog train: this is ..."). */
static void vsay(const opts *o, const char *fmt, va_list ap, const char *tail) {
  if (o->quiet) return;   /* a rank other than 0: rank 0 says it once */
  char line[2048];
  va_list again;
  va_copy(again, ap);
  int head = snprintf(line, sizeof line, "%s%s%s: ", o->prog, o->cmdname ? " " : "", o->cmdname ? o->cmdname : "");
  int body = head >= 0 && (size_t)head < sizeof line ? vsnprintf(line + head, sizeof line - (size_t)head, fmt, again) : -1;
  va_end(again);
  int end = body >= 0 && (size_t)(head + body) < sizeof line
    ? snprintf(line + head + body, sizeof line - (size_t)(head + body), "%s", tail) : -1;
  if (end >= 0 && (size_t)(head + body + end) < sizeof line) {
    fwrite(line, 1, (size_t)(head + body + end), stderr);
    return;
  }
  /* (longer than the buffer: in pieces) */
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
