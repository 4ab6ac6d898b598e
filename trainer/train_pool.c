/* train_pool.c — a small pthreads pool for the sharded step (train_shard.c).
 *
 * tr_pool_run(p, ntasks, fn, ctx) calls fn(ctx, i) once for every i < ntasks, on the
 * calling thread and the pool's workers, and returns when all have returned. Which thread
 * runs which task is left to chance (an atomic counter hands them out): callers make every
 * task write only its own memory, so the results do not depend on it.
 *
 * A sharded step is two jobs (forward/backward, then sum/step) with little serial work
 * between them and between steps, and the gather thread gets one job per training step: a
 * thread that finds no job, or the caller waiting for the workers, first polls for
 * TR_POOL_SPIN_S seconds (longer than a training step of the networks we bench; 40 us when
 * the pool has more threads than there are CPUs, where a poll holds a CPU that a thread with
 * work may need), then sleeps on a condition variable. So back-to-back jobs skip the
 * wake-up (a futex, and on a VM an IPI to a halted virtual CPU), and an idle pool or a long
 * wait costs no CPU. The poll was 2000 pauses (37 us on Zen 5) until the Zen 5 VM showed
 * what a wake-up costs the caller there: Fashion-MNIST 784-256-10 (a 284 us step) spent
 * 6.4 % of its training loop outside the step and the gathers, mostly in
 * pthread_cond_broadcast's futex wake.
 *
 * tr_pool_start / tr_pool_wait split tr_pool_run: the caller posts a job, does its own work,
 * then takes what no worker has started and waits for the rest (train_loop.c gathers the
 * next batch on a worker this way while the caller runs the step). */
#if defined(__linux__)
#define _GNU_SOURCE   /* sched_getaffinity */
#else
#define _POSIX_C_SOURCE 200809L
#endif
#include "train_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif

int tr_cpus(void) {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
#ifdef _SC_NPROCESSORS_ONLN
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
#else
  return 1;
#endif
}

/* The generated kernels keep up to a few hundred KB of tiles on the stack (a conv layer's
   frames, the transposed weight blocks): a worker gets as much stack as a main thread
   usually has, whatever the platform's default for new threads. */
#define TR_POOL_STACK ((size_t)16 << 20)

/* Seconds of polling before sleeping (more threads than CPUs: TR_POOL_SPIN_OVER_S), the
   clock read every TR_POOL_SPIN_CHECK pauses (a pause is 10-150 cycles, by core). */
#define TR_POOL_SPIN_S 2e-3
#define TR_POOL_SPIN_OVER_S 40e-6
#define TR_POOL_SPIN_CHECK 64

static void cpu_relax(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __asm__ __volatile__("pause");
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* One pause of a poll that began at poll number 0; 1 once it has lasted `secs`. *until is
   the caller's, set by the first clock read. */
static int spin_over(int i, double secs, double *until) {
  cpu_relax();
  if (i % TR_POOL_SPIN_CHECK != 0) return 0;
  double t = cr_now();
  if (i == 0) *until = t + secs;
  return t > *until;
}

struct tr_pool {
  int threads;                  /* workers + the caller */
  double spin_s;                /* how long a poll lasts before sleeping */
  pthread_t *tid;
  int started;                  /* workers created */
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  atomic_ulong gen;             /* job number, bumped (under mu) by each tr_pool_run */
  atomic_int busy;              /* workers still inside the current job */
  atomic_int stop;
  void (*fn)(void *, int);
  void *ctx;
  int ntasks;
  atomic_int next;              /* the next task index to hand out */
};

/* Runs tasks of the current job until none is left. */
static void drain(tr_pool *p) {
  for (;;) {
    int i = atomic_fetch_add(&p->next, 1);
    if (i >= p->ntasks) return;
    p->fn(p->ctx, i);
  }
}

/* The next job's number once it differs from seen (polled, then slept for), or 0: stop.
 * The job's fn, ctx, ntasks were written before gen was bumped (seq_cst atomics). */
static unsigned long next_job(tr_pool *p, unsigned long seen) {
  double until = 0;
  for (int i = 0;; i++) {
    if (atomic_load(&p->stop)) return 0;
    unsigned long g = atomic_load(&p->gen);
    if (g != seen) return g;
    if (spin_over(i, p->spin_s, &until)) break;
  }
  pthread_mutex_lock(&p->mu);
  while (!atomic_load(&p->stop) && atomic_load(&p->gen) == seen) pthread_cond_wait(&p->go, &p->mu);
  unsigned long g = atomic_load(&p->stop) ? 0 : atomic_load(&p->gen);
  pthread_mutex_unlock(&p->mu);
  return g;
}

static void *worker(void *arg) {
  tr_pool *p = arg;
  unsigned long seen = 0;
  while ((seen = next_job(p, seen)) != 0) {
    drain(p);
    /* the last worker out wakes the caller if it went to sleep (it checks busy under mu) */
    if (atomic_fetch_sub(&p->busy, 1) == 1) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
  return NULL;
}

tr_pool *tr_pool_new(int threads) {
  tr_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->threads = threads < 1 ? 1 : threads;
  p->spin_s = p->threads <= tr_cpus() ? TR_POOL_SPIN_S : TR_POOL_SPIN_OVER_S;
  atomic_init(&p->next, 0);
  atomic_init(&p->gen, 0);
  atomic_init(&p->busy, 0);
  atomic_init(&p->stop, 0);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->go, NULL);
  pthread_cond_init(&p->done, NULL);
  if (p->threads == 1) return p;
  p->tid = calloc((size_t)p->threads - 1, sizeof *p->tid);
  pthread_attr_t at;
  if (!p->tid || pthread_attr_init(&at) != 0) {
    tr_pool_free(p);
    return NULL;
  }
  pthread_attr_setstacksize(&at, TR_POOL_STACK);
  for (int i = 0; i < p->threads - 1; i++) {
    if (pthread_create(&p->tid[i], &at, worker, p) != 0) break;
    p->started++;
  }
  pthread_attr_destroy(&at);
  if (p->started != p->threads - 1) {
    tr_pool_free(p);
    return NULL;
  }
  return p;
}

void tr_pool_start(tr_pool *p, int ntasks, void (*fn)(void *ctx, int task), void *ctx) {
  if (p->started == 0) {
    for (int i = 0; i < ntasks; i++) fn(ctx, i);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn, p->ctx = ctx, p->ntasks = ntasks;
  atomic_store(&p->next, 0);
  atomic_store(&p->busy, p->started);
  atomic_fetch_add(&p->gen, 1);   /* never 0 again: 2^64 jobs */
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
}

void tr_pool_wait(tr_pool *p) {
  if (p->started == 0) return;
  drain(p);   /* whatever no worker has taken yet */
  /* every worker must have left this job before its counter is reused */
  double until = 0;
  for (int i = 0; atomic_load(&p->busy) > 0 && !spin_over(i, p->spin_s, &until); i++) continue;
  if (atomic_load(&p->busy) > 0) {
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->busy) > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
}

void tr_pool_run(tr_pool *p, int ntasks, void (*fn)(void *ctx, int task), void *ctx) {
  if (ntasks <= 1) {   /* nothing to share: no wake-up */
    for (int i = 0; i < ntasks; i++) fn(ctx, i);
    return;
  }
  tr_pool_start(p, ntasks, fn, ctx);   /* runs it at once without workers */
  tr_pool_wait(p);
}

void tr_pool_free(tr_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->started; i++) pthread_join(p->tid[i], NULL);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->tid);
  free(p);
}
