/* train_loop.c — the `train` command as named steps: check the options, load the data,
 * start (fresh or --resume), then per epoch: the steps with the NaN/Inf check, the
 * validation pass and the epoch line, the checkpoint, the metrics; at the end the
 * summary and the plot. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything one training run holds. */
typedef struct {
  const cr_net *net;
  const opts *o;
  model m;
  cr_dataset tr, va;
  cr_batcher b;
  cr_metrics_row *rows;
  int nrows;
  long start_epoch, epochs, steps, last_good_epoch;
  uint64_t seed;
  int batch;
  const char *ckpt;          /* where checkpoints go: --checkpoint, else --resume */
  double total_train_s;
  long total_samples;
  double vloss, vacc;        /* of the last validation pass */
  tr_sched sched;            /* the lr schedule: --schedule, else the spec's, else constant */
  float base_lr, base_mom;   /* the optimizer's lr and momentum (beta1) the schedule starts
                                from; a checkpoint stores these, not the scheduled values */
  long steps_per_epoch;
} run;

static void run_free(run *r) {
  free(r->rows);
  cr_batcher_free(&r->b);
  cr_dataset_free(&r->tr);
  cr_dataset_free(&r->va);
  tr_model_free(&r->m);
}

/* Usage errors found before any file is read. 0 ok, 2 bad (printed). */
static int check_options(const cr_net *net, const opts *o) {
  if (o->batch_set && o->batch > net->batch)
    return tr_usage(o, "option '--batch' %ld is larger than the spec's batch %d", o->batch,
                    net->batch);
  if (o->plot && !o->metrics)
    return tr_usage(o, "option '--plot' needs --metrics (the plot is drawn from the CSV)");
  if (o->schedule) {
    tr_sched sc;
    char err[256];
    if (tr_sched_parse(&sc, o->schedule, err, sizeof err) != 0)
      return tr_usage(o, "option '--schedule': %s", err);
  }
  if (o->init) {
    cr_init_spec s = {o->init, NULL, NULL, 0.0f, 1, 1};
    float probe;
    cr_rng rng;
    cr_rng_seed(&rng, 0, 0);
    if (cr_init_tensor(&probe, 1, &s, &rng, NULL) != 0)
      return tr_usage(o, "option '--init': unknown scheme '%s'", o->init);
  }
  return 0;
}

/* --resume: weights, optimizer, normalisation, RNG and progress from the checkpoint. */
static int start_resumed(run *r) {
  const opts *o = r->o;
  cr_err e = {{0}};
  if (tr_model_load(&r->m, o->resume, &e) != 0) return tr_fail(o, 2, "%s", e.msg);
  /* The weights are portable; NAME_opt's state buffers have a layout private to the
     build (ISA) that wrote them, so only that build may continue the optimizer. */
  if (strcmp(r->m.isa, r->net->isa) != 0)
    return tr_fail(o, 2, "%s: checkpoint's optimizer state was written by the %s build, this "
                   "is the %s build (resume with that one; eval/predict/export work with any)",
                   o->resume, r->m.isa, r->net->isa);
  r->start_epoch = r->m.progress[0];
  r->steps = r->m.progress[1];
  r->seed = (uint64_t)r->m.progress[2];
  r->batch = (int)r->m.progress[3];
  if (o->seed_set && o->seed != r->seed)
    tr_fail(o, 0, "note: --seed ignored, resuming with the checkpoint's seed %llu",
            (unsigned long long)r->seed);
  return 0;
}

/* A fresh run: initialise the weights, fit the normalisation on the training set. */
static int start_fresh(run *r) {
  cr_err e = {{0}};
  if (tr_model_init(&r->m, r->seed, r->o->init, &e) != 0) return tr_fail(r->o, 2, "%s", e.msg);
  if (r->o->no_norm) return 0;
  cr_norm nm;
  if (cr_norm_fit(&nm, &r->tr, 0, &e) != 0) return tr_fail(r->o, 2, "%s", e.msg);
  r->m.norm[0] = nm.mean, r->m.norm[1] = nm.std;
  cr_norm_free(&nm);
  return 0;
}

/* The schedule of this run (--schedule, else the spec's), checked against the run's length.
 * 0 ok, 2 bad (printed). Called once the batcher, the lr and the epochs are set. */
static int prepare_schedule(run *r) {
  const char *text = r->o->schedule ? r->o->schedule : r->net->schedule;
  char err[256];
  if (!text) text = "constant";
  if (tr_sched_parse(&r->sched, text, err, sizeof err) != 0)
    return tr_fail(r->o, 2, "%s schedule '%s': %s", r->o->schedule ? "--schedule" : "the spec's",
                   text, err);
  r->steps_per_epoch = (long)cr_batcher_batches(&r->b);
  if (tr_sched_check(&r->sched, r->epochs, r->steps_per_epoch, err, sizeof err) != 0)
    return tr_fail(r->o, 2, "schedule '%s': %s", text, err);
  r->base_lr = *r->net->opt_lr(r->m.opt);
  r->base_mom = *r->net->opt_momentum(r->m.opt);
  return 0;
}

/* Sets the optimizer's lr (and momentum) for the next step from the schedule. 0, or 2 when
 * a onecycle schedule has ended (printed). */
static int schedule_step(run *r, long ep) {
  if (r->sched.kind == TR_SCHED_CONSTANT) return 0;
  double lr, mom;
  if (tr_sched_at(&r->sched, r->base_lr, ep, r->steps, r->epochs, r->steps_per_epoch, &lr,
                  &mom) != 0)
    return tr_fail(r->o, 2, "onecycle schedule: step %ld is past its last step (its epochs "
                   "must cover the whole run, including resumed epochs)", r->steps + 1);
  *r->net->opt_lr(r->m.opt) = (float)lr;
  if (!isnan(mom)) *r->net->opt_momentum(r->m.opt) = (float)mom;
  return 0;
}

/* The optimizer's lr and momentum back to the base values (before a checkpoint). */
static void schedule_restore(run *r) {
  if (r->sched.kind == TR_SCHED_CONSTANT) return;
  *r->net->opt_lr(r->m.opt) = r->base_lr;
  *r->net->opt_momentum(r->m.opt) = r->base_mom;
}

/* Data, model state, batcher and earlier metrics rows, ready for the first epoch. */
static int prepare(run *r, const datapaths *dp) {
  const opts *o = r->o;
  const cr_net *net = r->net;
  cr_err e = {{0}};
  int rc;
  if (tr_model_alloc(&r->m, net) != 0) return tr_fail(o, 1, "out of memory");
  if ((rc = tr_load_set(net, o, &r->tr, dp->tx, dp->ty)) ||
      (rc = tr_load_set(net, o, &r->va, dp->vx, dp->vy)))
    return rc;
  r->seed = tr_seed(o);
  r->batch = net->batch;
  if ((rc = o->resume ? start_resumed(r) : start_fresh(r))) return rc;
  if (o->batch_set) r->batch = (int)o->batch;
  if (r->batch < 1 || r->batch > net->batch)
    return tr_fail(o, 2, "batch %d out of range 1..%d", r->batch, net->batch);
  if ((rc = tr_check_train_rows(net, o, dp->tx, r->tr.n, r->batch))) return rc;
  if (o->lr_set) *net->opt_lr(r->m.opt) = (float)o->lr;
  r->epochs = o->epochs ? o->epochs : 5;
  r->ckpt = o->checkpoint ? o->checkpoint : o->resume;
  r->last_good_epoch = r->start_epoch;
  tr_apply_norm(&r->m, &r->tr);
  tr_apply_norm(&r->m, &r->va);
  if (cr_batcher_init(&r->b, &r->tr, r->batch, !o->no_shuffle, 0, r->seed, &e) != 0)
    return tr_fail(o, 2, "%s", e.msg);
  if ((rc = prepare_schedule(r))) return rc;
  r->rows = calloc((size_t)r->epochs + 1, sizeof *r->rows);
  if (!r->rows) return 2;
  if (o->metrics && o->resume &&
      cr_metrics_read(o->metrics, (int)r->start_epoch + 1, r->rows, (int)r->epochs, &r->nrows,
                      &e) != 0)
    return tr_fail(o, 2, "%s", e.msg);
  return 0;
}

/* The NaN/Inf stop: which step, which gradient (or, when the loss overflowed on finite
 * gradients, which parameter), and what happened to the checkpoint. Returns 1. */
static int report_nonfinite_step(const run *r, long ep, float loss, int bad, long idx,
                                 float val) {
  const cr_net *net = r->net;
  char where[192], kept[PATH_MAX + 64], lv[16], gv[16];
  if (bad >= 0) {
    tr_describe_element(net, bad, idx, where, sizeof where);
    fprintf(stderr, "%s train: non-finite values at step %ld (epoch %ld): loss %s, gradient "
            "of %s = %s; ", r->o->prog, r->steps, ep + 1, tr_fmt_num(lv, loss), where,
            tr_fmt_num(gv, val));
  } else {
    /* the loss overflowed on finite numbers: point at the weights that diverged */
    int big = tr_find_nonfinite(net, r->m.params, 0, &idx, &val);
    if (big < 0) big = tr_find_largest(net, r->m.params, &idx, &val);
    tr_describe_element(net, big, idx, where, sizeof where);
    fprintf(stderr, "%s train: non-finite values at step %ld (epoch %ld): loss %s, gradients "
            "finite, largest parameter %s = %s; ", r->o->prog, r->steps, ep + 1,
            tr_fmt_num(lv, loss), where, tr_fmt_num(gv, val));
  }
  if (r->ckpt && r->last_good_epoch > 0)
    snprintf(kept, sizeof kept, "last good checkpoint kept: %s (epoch %ld)", r->ckpt,
             r->last_good_epoch);
  else
    snprintf(kept, sizeof kept, "no checkpoint written%s", r->ckpt ? " yet" : "");
  fprintf(stderr, "training stopped, %s\n", kept);
  return 1;
}

/* The training steps of epoch ep. *loss_sum and *seen: summed loss and samples.
 * Returns 0, or 1 after a non-finite loss or gradient (reported). */
static int train_epoch(run *r, long ep, int tty, double *loss_sum, long *seen) {
  const cr_net *net = r->net;
  cr_progress pr;
  cr_progress_start(&pr, stdout, tty, (int)ep + 1, (int)r->epochs, (long)r->tr.n);
  const float *x;
  const uint8_t *y;
  int n;
  *loss_sum = 0, *seen = 0;
  /* dropout masks: a stream per epoch (as the shuffle), so a run resumed at an epoch's
     checkpoint draws what the uninterrupted run drew */
  if (net->seed) net->seed(r->m.work, r->seed, CR_STREAM_DROPOUT + (uint64_t)ep);
  while (cr_batcher_next(&r->b, &x, &y, &n)) {
    if (schedule_step(r, ep)) {
      cr_progress_end(&pr);
      return 1;
    }
    tr_set_targets(&r->m, y, n);
    float loss = net->train_step(r->m.params, r->m.opt, r->m.grads, r->m.work, x, r->m.targets, n);
    r->steps++;
    long idx = -1;
    float val = 0;
    int bad = tr_find_nonfinite(net, r->m.grads, 1, &idx, &val);
    if (!isfinite(loss) || bad >= 0) {
      cr_progress_end(&pr);
      return report_nonfinite_step(r, ep, loss, bad, idx, val);
    }
    *loss_sum += (double)loss * n;
    *seen += n;
    cr_progress_update(&pr, *seen, *loss_sum / (double)*seen);
  }
  cr_progress_end(&pr);
  return 0;
}

/* A loss for the epoch line: 4 decimals, or 4 significant digits when it is huge. */
static void fmt_loss(char buf[24], double v) {
  snprintf(buf, 24, fabs(v) < 1e5 ? "%.4f" : "%.4g", v);
}

/* Validation pass, the metrics row and the epoch line. */
static void finish_epoch(run *r, long ep, double t0, double train_s, double lsum, long seen) {
  const cr_net *net = r->net;
  tr_evaluate(&r->m, &r->va, net->batch, &r->vloss, &r->vacc);
  double secs = cr_now() - t0;
  cr_metrics_row row = {(int)ep + 1, seen ? lsum / (double)seen : NAN, r->vloss,
                        net->classifier ? r->vacc : NAN, secs};
  if (r->nrows < (int)r->epochs + 1) r->rows[r->nrows++] = row;
  char tl[24], vl[24];
  fmt_loss(tl, row.train_loss), fmt_loss(vl, r->vloss);
  double rate = seen / (train_s > 0 ? train_s : 1e-9);
  if (net->classifier)
    printf("epoch %ld/%ld  train_loss %s  valid_loss %s  valid_acc %.4f  %.2fs  %.0f samples/s\n",
           ep + 1, r->epochs, tl, vl, r->vacc, secs, rate);
  else
    printf("epoch %ld/%ld  train_loss %s  valid_loss %s  (rounded-output acc %.4f)  %.2fs  "
           "%.0f samples/s\n", ep + 1, r->epochs, tl, vl, r->vacc, secs, rate);
  fflush(stdout);
}

/* The checkpoint after epoch ep, refused when a parameter is not finite. 0 ok, 1 failed. */
static int write_checkpoint(run *r, long ep) {
  long idx;
  float val;
  int bad = tr_find_nonfinite(r->net, r->m.params, 0, &idx, &val);
  if (bad >= 0) {
    char where[192], pv[16];
    tr_describe_element(r->net, bad, idx, where, sizeof where);
    return tr_fail(r->o, 1, "parameter %s = %s after epoch %ld; checkpoint %s not overwritten",
                   where, tr_fmt_num(pv, val), ep + 1, r->ckpt);
  }
  r->m.progress[0] = ep + 1, r->m.progress[1] = r->steps, r->m.progress[2] = (int64_t)r->seed;
  r->m.progress[3] = r->batch;
  cr_err e = {{0}};
  if (tr_model_save(&r->m, r->ckpt, &e) != 0) return tr_fail(r->o, 1, "%s", e.msg);
  r->last_good_epoch = ep + 1;
  return 0;
}

/* One epoch: steps, validation, checkpoint, metrics. 0 ok, 1 stopped. */
static int one_epoch(run *r, long ep, int tty) {
  double t0 = cr_now(), lsum;
  long seen;
  int rc = train_epoch(r, ep, tty, &lsum, &seen);
  if (rc) return rc;
  double train_s = cr_now() - t0;
  schedule_restore(r);
  r->total_train_s += train_s;
  r->total_samples += seen;
  finish_epoch(r, ep, t0, train_s, lsum, seen);
  if (r->ckpt && (rc = write_checkpoint(r, ep))) return rc;
  cr_err e = {{0}};
  if (r->o->metrics && cr_metrics_write(r->o->metrics, r->rows, r->nrows, &e) != 0)
    return tr_fail(r->o, 1, "%s", e.msg);
  return 0;
}

static void print_start(const run *r) {
  printf("%s: %zu train / %zu valid samples, batch %d, lr %g%s%s, seed %llu, normalisation "
         "mean %.4f std %.4f%s\n",
         r->net->name, r->tr.n, r->va.n, r->batch, (double)*r->net->opt_lr(r->m.opt),
         r->sched.kind == TR_SCHED_CONSTANT ? "" : " ", r->sched.kind == TR_SCHED_CONSTANT
         ? "" : (r->o->schedule ? r->o->schedule : r->net->schedule),
         (unsigned long long)r->seed, (double)r->m.norm[0], (double)r->m.norm[1],
         r->o->resume ? " (resumed)" : "");
  if (r->start_epoch >= r->epochs)
    printf("checkpoint already has %ld epochs (--epochs %ld): nothing to train\n",
           r->start_epoch, r->epochs);
}

/* The summary line (after a complete run), the metrics file, the plot, the checkpoint. */
static void print_end(const run *r, int rc) {
  const opts *o = r->o;
  if (rc == 0 && r->total_samples > 0) {
    double s = r->total_train_s > 0 ? r->total_train_s : 1e-9;
    printf("done: %ld samples in %.2fs of training (%.0f samples/s); valid_loss %.4g",
           r->total_samples, r->total_train_s, r->total_samples / s, r->vloss);
    if (r->net->classifier) printf("  valid_acc %.4f", r->vacc);
    printf("\n");
  }
  if (o->metrics && r->nrows > 0) {
    if (rc == 0) printf("metrics: %s\n", o->metrics);
    if (o->plot) {
      cr_err e = {{0}};
      int prc = cr_plot_png(o->plot, o->metrics, r->net->classifier, &e);
      if (prc == 0) printf("plot: %s\n", o->plot);
      else if (prc == 1) printf("plot: skipped (gnuplot is not installed; scripts/deps.sh installs it)\n");
      else tr_fail(o, 0, "%s", e.msg);
    }
  }
  if (rc == 0 && r->ckpt && r->last_good_epoch > 0)
    printf("checkpoint: %s (epoch %ld)\n", r->ckpt, r->last_good_epoch);
}

int tr_cmd_train(const cr_net *net, const opts *o) {
  datapaths dp;
  int rc = tr_resolve_data(o, &dp, 1);
  if (rc || (rc = check_options(net, o))) return rc;
  run r;
  memset(&r, 0, sizeof r);
  r.net = net, r.o = o;
  if ((rc = prepare(&r, &dp))) {
    run_free(&r);
    return rc;
  }
  print_start(&r);
  int tty = o->progress || isatty(STDOUT_FILENO);
  cr_batcher_set_epoch(&r.b, (uint64_t)r.start_epoch);
  for (long ep = r.start_epoch; ep < r.epochs && !rc; ep++) rc = one_epoch(&r, ep, tty);
  print_end(&r, rc);
  run_free(&r);
  return rc;
}
