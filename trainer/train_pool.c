/* train_pool.c — a small pthreads pool for the sharded step (train_shard.c).
 *
 * tr_pool_run(p, ntasks, fn, ctx) calls fn(ctx, i) once for every i < ntasks, on the
 * calling thread and the pool's workers, and returns when all have returned. Which thread
 * runs which task is left to chance (an atomic counter hands them out): callers make every
 * task write only its own memory, so the results do not depend on it. Threads sleep on a
 * condition variable between jobs (the machine may be shared; no spinning). */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The generated kernels keep up to a few hundred KB of tiles on the stack (a conv layer's
   frames, the transposed weight blocks): a worker gets as much stack as a main thread
   usually has, whatever the platform's default for new threads. */
#define TR_POOL_STACK ((size_t)16 << 20)

struct tr_pool {
  int threads;                  /* workers + the caller */
  pthread_t *tid;
  int started;                  /* workers created */
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  unsigned long gen;            /* job number, bumped by each tr_pool_run */
  int busy;                     /* workers still inside the current job */
  int stop;
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

static void *worker(void *arg) {
  tr_pool *p = arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
    if (p->stop) break;
    seen = p->gen;
    pthread_mutex_unlock(&p->mu);
    drain(p);
    pthread_mutex_lock(&p->mu);
    if (--p->busy == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

tr_pool *tr_pool_new(int threads) {
  tr_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->threads = threads < 1 ? 1 : threads;
  atomic_init(&p->next, 0);
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

void tr_pool_run(tr_pool *p, int ntasks, void (*fn)(void *ctx, int task), void *ctx) {
  if (p->started == 0 || ntasks <= 1) {
    for (int i = 0; i < ntasks; i++) fn(ctx, i);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn, p->ctx = ctx, p->ntasks = ntasks;
  atomic_store(&p->next, 0);
  p->busy = p->started;
  p->gen++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  drain(p);
  /* every worker must have left this job before its counter is reused */
  pthread_mutex_lock(&p->mu);
  while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

void tr_pool_free(tr_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->started; i++) pthread_join(p->tid[i], NULL);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->tid);
  free(p);
}
