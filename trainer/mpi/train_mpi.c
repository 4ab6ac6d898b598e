/* train_mpi.c — the Open MPI transfers behind `train --distributed` (cr_dist, cr_train.h).
 * Built only with mpicc, into the MPI trainer (mk/mpi.mk), never into libcrtrain.a, so the
 * ordinary trainer and the generated code need no MPI. These functions only move bytes: the
 * order in which gradients are added is the trainer's (trainer/train_shard.c), which is why
 * no MPI reduction (MPI_Allreduce, MPI_Reduce: their summation order is the library's) is
 * used. MPI's default error handler stays MPI_ERRORS_ARE_FATAL: a failed transfer or a rank
 * that died ends the whole job (mpirun names the rank), never a hang. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_train.h"

/* Counts above INT_MAX floats (8 GB of gradients) would need MPI's large-count calls. */
static int count_ok(size_t n) { return n <= (size_t)INT32_MAX; }

static int mpi_init(int *rank, int *ranks, char *err, size_t cap) {
  /* Open MPI would start a singleton job of one rank without mpirun: that is almost always
     a forgotten launcher, so it is refused (its launchers set these) */
  if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) {
    snprintf(err, cap, "option '--distributed' needs the job launcher: mpirun -np N PROG "
             "train ... --distributed");
    return -1;
  }
  int ok = 0;
  if (MPI_Initialized(&ok) == MPI_SUCCESS && !ok && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
    snprintf(err, cap, "MPI_Init failed");
    return -1;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, ranks);
  return 0;
}

/* The launchers' rank variables, read before MPI_Init (0 when none is set). */
static int mpi_launch_rank(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return atoi(v);
  }
  return 0;
}

static void mpi_finalize(void) {
  int done = 0;
  if (MPI_Finalized(&done) == MPI_SUCCESS && !done) MPI_Finalize();
}

static int mpi_allgather(const void *mine, void *all, size_t bytes) {
  if (!count_ok(bytes)) return -1;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  /* mine at its own place in all: MPI forbids overlapping buffers, so in place */
  const void *src = (const char *)all + (size_t)rank * bytes == mine ? MPI_IN_PLACE : mine;
  return MPI_Allgather(src, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD) ==
                 MPI_SUCCESS ? 0 : -1;
}

/* exchange and allgatherv post every send and receive at once, then wait once: a rank that
 * runs late (a busy machine) delays the others once per call, not once per peer or part. */
static int mpi_allgatherv(float *buf, const size_t *lo, const size_t *n, void *extra,
                          size_t bytes) {
  int me, ranks, rc = -1, k = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  MPI_Request *rq = malloc(4 * (size_t)ranks * sizeof *rq);
  if (!rq || !count_ok(bytes)) goto out;
  for (int r = 0; r < ranks; r++)
    if (!count_ok(n[r])) goto out;
  for (int d = 1; d < ranks; d++) {
    const int from = (me - d + ranks) % ranks;
    MPI_Irecv(buf + lo[from], (int)n[from], MPI_FLOAT, from, 1, MPI_COMM_WORLD, &rq[k++]);
    if (bytes)
      MPI_Irecv((char *)extra + (size_t)from * bytes, (int)bytes, MPI_BYTE, from, 2,
                MPI_COMM_WORLD, &rq[k++]);
  }
  for (int d = 1; d < ranks; d++) {
    const int to = (me + d) % ranks;
    MPI_Isend(buf + lo[me], (int)n[me], MPI_FLOAT, to, 1, MPI_COMM_WORLD, &rq[k++]);
    if (bytes)
      MPI_Isend((char *)extra + (size_t)me * bytes, (int)bytes, MPI_BYTE, to, 2,
                MPI_COMM_WORLD, &rq[k++]);
  }
  rc = MPI_Waitall(k, rq, MPI_STATUSES_IGNORE) == MPI_SUCCESS ? 0 : -1;
out:
  free(rq);
  return rc;
}

static int mpi_exchange(const float *out, const size_t *lo, const size_t *n, float *in,
                        size_t stride) {
  int me, ranks, rc = -1, k = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  MPI_Request *rq = malloc(2 * (size_t)ranks * sizeof *rq);
  if (!rq) goto out;
  for (int r = 0; r < ranks; r++)
    if (!count_ok(n[r])) goto out;
  for (int d = 1; d < ranks; d++) {
    const int from = (me - d + ranks) % ranks;
    MPI_Irecv(in + (size_t)from * stride, (int)n[me], MPI_FLOAT, from, 3, MPI_COMM_WORLD,
              &rq[k++]);
  }
  for (int d = 1; d < ranks; d++) {
    const int to = (me + d) % ranks;
    MPI_Isend(out + lo[to], (int)n[to], MPI_FLOAT, to, 3, MPI_COMM_WORLD, &rq[k++]);
  }
  rc = MPI_Waitall(k, rq, MPI_STATUSES_IGNORE) == MPI_SUCCESS ? 0 : -1;
out:
  free(rq);
  return rc;
}

static int mpi_bcast(void *buf, size_t bytes) {
  if (!count_ok(bytes)) return -1;
  return MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

const cr_dist *cr_mpi_dist(void) {
  static const cr_dist d = {mpi_init, mpi_finalize, mpi_allgather, mpi_exchange,
                            mpi_allgatherv, mpi_bcast, mpi_launch_rank};
  return &d;
}
