/* minicheck.h — the part of Check's API that net_test.c uses, for targets where libcheck
 * is not installed (a cross-compiled NEON harness run under qemu-user). Selected with
 * -DNET_MINICHECK. Tests run in-process (like Check's CK_NOFORK); a failed assertion
 * longjmps back to the runner, which prints Check's lines:
 *     FILE:LINE:F:TCASE:TEST:I: message
 *     N%: Checks: X, Failures: F, Errors: 0
 */
#ifndef MINICHECK_H
#define MINICHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; void (*fn)(int); } TTest;

#define START_TEST(name)                                                   \
  static void name##_fn(int _i __attribute__((unused)));                   \
  static const TTest name##_ttest = {#name, name##_fn};                    \
  static const TTest *name = &name##_ttest;                                \
  static void name##_fn(int _i __attribute__((unused)))
#define END_TEST

static jmp_buf mc_jump;
static char mc_message[1024];
static const char *mc_file;
static int mc_line;

static void mc_fail(const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(mc_message, sizeof mc_message, fmt, ap);
  va_end(ap);
  mc_file = file;
  mc_line = line;
  longjmp(mc_jump, 1);
}

#define ck_assert_msg(expr, ...) \
  do { if (!(expr)) mc_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define ck_assert(expr) ck_assert_msg(expr, "Assertion '%s' failed", #expr)
#define ck_abort_msg(...) mc_fail(__FILE__, __LINE__, __VA_ARGS__)
#define ck_assert_ptr_nonnull(p) ck_assert_msg((p) != NULL, "Assertion '%s != NULL' failed", #p)
#define ck_assert_str_eq(a, b) \
  ck_assert_msg(strcmp((a), (b)) == 0, "Assertion '%s == %s' failed: \"%s\" != \"%s\"", #a, #b, (a), (b))

enum { CK_NOFORK = 0, CK_NORMAL = 1 };

#define MC_MAX 32
typedef struct { const TTest *test; int start, end; } mc_entry;
typedef struct { const char *name; mc_entry e[MC_MAX]; int n; } TCase;
typedef struct { const char *name; TCase *tc[MC_MAX]; int n; } Suite;
typedef struct { Suite *s; int failed; } SRunner;

static TCase *tcase_create(const char *name)
{
  TCase *t = calloc(1, sizeof *t);
  if (!t) abort();
  t->name = name;
  return t;
}
static void tcase_add_loop_test(TCase *t, const TTest *test, int start, int end)
{
  if (t->n == MC_MAX) abort();
  t->e[t->n].test = test; t->e[t->n].start = start; t->e[t->n].end = end; t->n++;
}
static void tcase_add_test(TCase *t, const TTest *test) { tcase_add_loop_test(t, test, 0, 1); }
static void tcase_set_timeout(TCase *t, double seconds) { (void)t; (void)seconds; }
static Suite *suite_create(const char *name)
{
  Suite *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->name = name;
  return s;
}
static void suite_add_tcase(Suite *s, TCase *t)
{
  if (s->n == MC_MAX) abort();
  s->tc[s->n++] = t;
}
static SRunner *srunner_create(Suite *s)
{
  SRunner *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->s = s;
  return r;
}
static void srunner_set_fork_status(SRunner *r, int status) { (void)r; (void)status; }
static void srunner_run_all(SRunner *r, int mode)
{
  (void)mode;
  int checks = 0;
  printf("Running suite(s): %s\n", r->s->name);
  for (int c = 0; c < r->s->n; c++) {
    TCase *t = r->s->tc[c];
    for (int k = 0; k < t->n; k++)
      for (volatile int i = t->e[k].start; i < t->e[k].end; i++) {
        checks++;
        if (setjmp(mc_jump) == 0) {
          t->e[k].test->fn(i);
        } else {
          r->failed++;
          printf("%s:%d:F:%s:%s:%d: %s\n", mc_file, mc_line, t->name, t->e[k].test->name, i, mc_message);
        }
      }
  }
  printf("%d%%: Checks: %d, Failures: %d, Errors: 0\n", checks ? 100 * (checks - r->failed) / checks : 0,
         checks, r->failed);
}
static int srunner_ntests_failed(SRunner *r) { return r->failed; }
static void srunner_free(SRunner *r)
{
  for (int c = 0; c < r->s->n; c++) free(r->s->tc[c]);
  free(r->s);
  free(r);
}

#endif
