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

static int mpi_sendrecv(const float *out, size_t n, int to, float *in, size_t m, int from) {
  if (!count_ok(n) || !count_ok(m)) return -1;
  return MPI_Sendrecv(out, (int)n, MPI_FLOAT, to, 0, in, (int)m, MPI_FLOAT, from, 0,
                      MPI_COMM_WORLD, MPI_STATUS_IGNORE) == MPI_SUCCESS ? 0 : -1;
}

static int mpi_allgatherv(float *buf, const size_t *lo, const size_t *n) {
  int ranks, rc = -1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int *count = malloc((size_t)ranks * sizeof *count), *displ = malloc((size_t)ranks * sizeof *displ);
  if (!count || !displ) goto out;
  for (int r = 0; r < ranks; r++) {
    if (!count_ok(lo[r] + n[r])) goto out;
    count[r] = (int)n[r], displ[r] = (int)lo[r];
  }
  rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, count, displ, MPI_FLOAT,
                      MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
out:
  free(count), free(displ);
  return rc;
}

static int mpi_bcast(void *buf, size_t bytes) {
  if (!count_ok(bytes)) return -1;
  return MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

const cr_dist *cr_mpi_dist(void) {
  static const cr_dist d = {mpi_init, mpi_finalize, mpi_allgather, mpi_sendrecv,
                                mpi_allgatherv, mpi_bcast};
  return &d;
}
