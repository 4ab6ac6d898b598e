/* Helpers shared by the runtime's own .c files; not part of the public API. */
#ifndef CR_INTERNAL_H
#define CR_INTERNAL_H

#include "cr.h"

/* If buf holds gzip data, decompress it into *owned (free it) and point *data and *dlen at
 * the result; otherwise point them at buf and set *owned = NULL. */
int cr__maybe_gunzip(const uint8_t *buf, size_t len, const char *name, const uint8_t **data,
                     size_t *dlen, uint8_t **owned, cr_err *e);

/* The reader policy, for every file the runtime reads: opens path without blocking (a FIFO
 * never hangs the open), refuses anything but a regular file (directory, FIFO, device,
 * socket: one line naming what it is), then reads it as it is (no gzip). Without `longer`,
 * a file longer than max_len is an error (refused from its size before reading when the size
 * says so); with it, at most max_len bytes are returned and *longer says whether there was
 * more. `what` ("checkpoint", or NULL) is put into the "cannot open" message. */
int cr__read_regular(const char *path, const char *what, size_t max_len, uint8_t **data,
                     size_t *len, int *longer, cr_err *e);

/* 1 if s ends with suffix. */
int cr__ends_with(const char *s, const char *suffix);

/* Allocates the arrays of a data set of n samples of dim floats; d is zeroed first. */
int cr__dataset_alloc(cr_dataset *d, size_t n, size_t dim, const char *name, cr_err *e);

/* IDX images (NDIM 2 or 3, possibly gzip'ed) without labels: y is all zeros. */
int cr__idx_images_mem(cr_dataset *d, const uint8_t *images, size_t images_len,
                       const char *images_name, cr_err *e);

#endif
