/* Check suite for the trainer's learning-rate schedules (trainer/train_sched.c): every
 * step's lr and momentum against PyTorch's schedulers (tests/trainer/sched_golden.txt,
 * written by make_sched_golden.py; `make golden` rewrites it), and the messages for bad
 * schedule text. Run by `make test-trainer`: test_sched GOLDEN_FILE. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

static const char *golden_path;

/* |a - b| relative to the case's largest rate: torch chains StepLR and CosineAnnealingLR
 * step by step, we use the closed forms, so the two differ by rounding only. */
#define REL_TOL 1e-12

START_TEST(matches_pytorch) {
  FILE *f = fopen(golden_path, "r");
  ck_assert_msg(f != NULL, "cannot open %s", golden_path);
  char line[512], text[256], kind[16];
  int cases = 0, steps = 0;
  double worst = 0;
  while (fgets(line, sizeof line, f)) {
    double base;
    long epochs, spe;
    if (line[0] == '#') continue;
    ck_assert_msg(sscanf(line, "case %255s %15s %lf %ld %ld", text, kind, &base, &epochs, &spe) == 5,
                  "bad golden line: %s", line);
    tr_sched s;
    char err[256] = "";
    ck_assert_msg(tr_sched_parse(&s, text, err, sizeof err) == 0, "%s: %s", text, err);
    ck_assert_msg(tr_sched_check(&s, epochs, spe, err, sizeof err) == 0, "%s: %s", text, err);
    /* the case's scale: its largest rate (onecycle's max_lr may exceed the base) */
    double scale = base;
    long ep, step;
    double want_lr, want_mom;
    while (fgets(line, sizeof line, f) && strncmp(line, "end", 3) != 0) {
      ck_assert_msg(sscanf(line, "%ld %ld %lf %lf", &ep, &step, &want_lr, &want_mom) == 4,
                    "bad golden line: %s", line);
      if (want_lr > scale) scale = want_lr;
      double lr, mom;
      ck_assert_int_eq(tr_sched_at(&s, base, ep, step, epochs, spe, &lr, &mom), 0);
      double d = fabs(lr - want_lr) / scale;
      if (d > worst) worst = d;
      ck_assert_msg(d <= REL_TOL, "%s step %ld: lr %.17g, torch %.17g", text, step, lr, want_lr);
      if (isnan(want_mom)) {
        ck_assert_msg(isnan(mom), "%s step %ld: momentum %g, torch does not cycle it", text,
                      step, mom);
      } else {
        ck_assert_msg(fabs(mom - want_mom) <= 1e-12, "%s step %ld: momentum %.17g, torch %.17g",
                      text, step, mom, want_mom);
      }
      steps++;
    }
    /* onecycle ends where torch's does: the step after the last is refused */
    if (s.kind == TR_SCHED_ONECYCLE) {
      double lr, mom;
      long total = (long)(isnan(s.epochs) ? (double)epochs : s.epochs) * spe;
      ck_assert_int_eq(tr_sched_at(&s, base, epochs, total, epochs, spe, &lr, &mom), -1);
    }
    cases++;
  }
  fclose(f);
  ck_assert_int_ge(cases, 8);
  ck_assert_int_ge(steps, 100);
  printf("test_sched: %d schedules, %d steps match PyTorch (worst relative lr difference %.2g)\n",
         cases, steps, worst);
}
END_TEST

START_TEST(bad_text_named) {
  static const struct { const char *text, *msg; } bad[] = {
      {"cosin", "unknown schedule 'cosin' (one of constant, step, cosine, onecycle)"},
      {"step", "step needs step_size (epochs between decays), e.g. step:step_size=5"},
      {"step:", "step: nothing after ':' (write step:key=value,...)"},
      {"step:step_size=0", "step step_size must be an integer from 1 to 1000000, got '0'"},
      {"step:step_size=1.5", "step step_size must be an integer from 1 to 1000000, got '1.5'"},
      {"step:step_size=2,", "step: trailing ','"},
      {"step:step_size", "step: expected key=value, got 'step_size'"},
      {"cosine:eta_min=-1", "cosine eta_min must be a number >= 0, got '-1'"},
      {"cosine:gamma=2", "cosine has no key 'gamma' (keys: t_max, eta_min)"},
      {"constant:x=1", "constant has no key 'x' (keys: none)"},
      {"onecycle:pct_start=1", "onecycle pct_start must be a number in (0, 1), got '1'"},
      {"onecycle:max_lr=nan", "onecycle max_lr must be a number > 0, got 'nan'"},
      {"onecycle:anneal=cosine", "onecycle anneal must be cos or linear, got 'cosine'"},
      {"onecycle:three_phase=1", "onecycle three_phase must be true or false, got '1'"},
      {"onecycle:base_momentum=0.99", "onecycle base_momentum 0.99 is larger than max_momentum 0.95"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tr_sched s;
    char err[256] = "";
    ck_assert_msg(tr_sched_parse(&s, bad[i].text, err, sizeof err) == -1, "'%s' accepted",
                  bad[i].text);
    ck_assert_str_eq(err, bad[i].msg);
  }
  /* a run longer than the onecycle it was given, and a phase of length 0 */
  tr_sched s;
  char err[256] = "";
  ck_assert_int_eq(tr_sched_parse(&s, "onecycle:epochs=2", err, sizeof err), 0);
  ck_assert_int_eq(tr_sched_check(&s, 3, 10, err, sizeof err), -1);
  ck_assert_str_eq(err, "onecycle epochs=2 is fewer than the 3 epochs to train (the schedule "
                        "would end before training does)");
  ck_assert_int_eq(tr_sched_parse(&s, "onecycle:pct_start=0.5", err, sizeof err), 0);
  ck_assert_int_eq(tr_sched_check(&s, 1, 2, err, sizeof err), -1);
  ck_assert_str_eq(err, "onecycle: phase 1 of 2 steps has length 0 (pct_start 0.5 of 2 steps; "
                        "torch divides by zero here): change pct_start or the epochs");
}
END_TEST

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_sched GOLDEN_FILE\n");
    return 2;
  }
  golden_path = argv[1];
  Suite *s = suite_create("trainer-schedules");
  TCase *c = tcase_create("core");
  tcase_add_test(c, matches_pytorch);
  tcase_add_test(c, bad_text_named);
  suite_add_tcase(s, c);
  SRunner *r = srunner_create(s);
  srunner_set_fork_status(r, CK_NOFORK);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
