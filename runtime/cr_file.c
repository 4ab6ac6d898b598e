/* Whole-file reading under the reader policy (with transparent gzip), in-memory gunzip
 * (cr_gunzip, cr__maybe_gunzip); cr_write_file over cr_out (cr_out.c, the writer policy).
 * Uses cr_util.c and cr_out.c; neither of them uses this file. */
#define _POSIX_C_SOURCE 200809L
#include "cr_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static size_t limit_or_default(size_t max) { return max ? max : CR_MAX_FILE_BYTES; }

int cr_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
              size_t max_out, const char *name, cr_err *e) {
  *out = NULL;
  *out_len = 0;
  max_out = limit_or_default(max_out);
  if (in_len < 18 || in[0] != 0x1f || in[1] != 0x8b)
    return cr_errf(e, "%s: not a gzip stream (too short or no 1f 8b magic)", name);
  /* The inflate-ratio limit, checked as the output grows (so a bomb never gets the memory). */
  int by_ratio = 0;
  if (in_len <= (SIZE_MAX - CR_INFLATE_SLACK) / CR_MAX_INFLATE_RATIO &&
      in_len * CR_MAX_INFLATE_RATIO + CR_INFLATE_SLACK < max_out) {
    max_out = in_len * CR_MAX_INFLATE_RATIO + CR_INFLATE_SLACK;
    by_ratio = 1;
  }

  size_t cap = in_len < max_out / 4 ? in_len * 4 : max_out;
  if (cap < 4096) cap = 4096 < max_out ? 4096 : max_out;
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) return cr_errf(e, "%s: out of memory decompressing", name);

  z_stream zs;
  memset(&zs, 0, sizeof zs);
  /* 16 + MAX_WBITS: gzip wrapper only (a zlib or raw stream is an error). */
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    free(buf);
    return cr_errf(e, "%s: cannot initialise zlib", name);
  }
  size_t in_pos = 0, out_pos = 0;
  int status = 0;
  for (;;) {
    if (out_pos == cap) {
      if (cap >= max_out) {
        if (by_ratio)
          status = cr_errf(e, "%s: decompresses to more than %zu bytes, over %d times its %zu "
                           "compressed bytes (refused as a gzip bomb; decompress it yourself if "
                           "it is real)", name, max_out, CR_MAX_INFLATE_RATIO, in_len);
        else
          status = cr_errf(e, "%s: decompressed data longer than the limit of %zu bytes", name,
                           max_out);
        break;
      }
      size_t ncap = cap > max_out / 2 ? max_out : cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) { status = cr_errf(e, "%s: out of memory decompressing", name); break; }
      buf = nb;
      cap = ncap;
    }
    size_t in_chunk = in_len - in_pos, out_chunk = cap - out_pos;
    if (in_chunk > UINT32_MAX) in_chunk = UINT32_MAX;   /* zlib counts in uInt */
    if (out_chunk > UINT32_MAX) out_chunk = UINT32_MAX;
    zs.next_in = (Bytef *)(uintptr_t)(in + in_pos);
    zs.avail_in = (uInt)in_chunk;
    zs.next_out = buf + out_pos;
    zs.avail_out = (uInt)out_chunk;
    int rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      /* Another gzip member may follow (gzip concatenation); anything else is garbage. */
      if (in_pos == in_len) break;
      if (in_len - in_pos >= 2 && in[in_pos] == 0x1f && in[in_pos + 1] == 0x8b) {
        if (inflateReset(&zs) != Z_OK) { status = cr_errf(e, "%s: zlib reset failed", name); break; }
        continue;
      }
      /* Zero bytes after the last member (tape or block padding): gzip -d ignores them too. */
      size_t z = in_pos;
      while (z < in_len && in[z] == 0) z++;
      if (z == in_len) break;
      status = cr_errf(e, "%s: %zu bytes of garbage after the gzip stream", name, in_len - in_pos);
      break;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {
      if (zs.avail_out == 0) continue;          /* needs more room: grow */
      status = cr_errf(e, "%s: truncated gzip stream (ended after %zu compressed bytes)", name,
                       in_len);
      break;
    }
    status = cr_errf(e, "%s: corrupt gzip stream: %s", name, zs.msg ? zs.msg : "inflate failed");
    break;
  }
  inflateEnd(&zs);
  if (status) {
    free(buf);
    return -1;
  }
  *out = buf;
  *out_len = out_pos;
  return 0;
}

int cr__maybe_gunzip(const uint8_t *buf, size_t len, const char *name, const uint8_t **data,
                     size_t *dlen, uint8_t **owned, cr_err *e) {
  *owned = NULL;
  if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
    size_t n;
    if (cr_gunzip(buf, len, owned, &n, 0, name, e)) return -1;
    *data = *owned;
    *dlen = n;
    return 0;
  }
  *data = buf;
  *dlen = len;
  return 0;
}

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

int cr__read_regular(const char *path, const char *what, size_t max_len, uint8_t **data,
                     size_t *len, int *longer, cr_err *e) {
  *data = NULL;
  *len = 0;
  if (longer) *longer = 0;
  const char *sp = what && *what ? " " : "";
  if (!what) what = "";
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return cr_errf(e, "%s: cannot open%s%s: %s", path, sp, what, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int en = errno;
    close(fd);
    return cr_errf(e, "%s: cannot stat%s%s: %s", path, sp, what, strerror(en));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return cr_errf(e, "%s: is %s, not a regular file (readers take regular files only)", path,
                   file_kind(st.st_mode));
  }
  if (!longer && st.st_size > 0 && (uintmax_t)st.st_size > (uintmax_t)max_len) {
    close(fd);
    return cr_errf(e, "%s: file longer than the limit of %zu bytes (%jd bytes)", path, max_len,
                   (intmax_t)st.st_size);
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl != -1) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  /* The size is a hint (the file may change while we read): read to the end, but never more
     than max_len + 1 bytes. */
  size_t cap = st.st_size > 0 && (uintmax_t)st.st_size < (uintmax_t)max_len
                   ? (size_t)st.st_size + 1 : (max_len < (1u << 16) ? max_len + 1 : 1u << 16);
  size_t n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) {
    close(fd);
    return cr_errf(e, "%s: out of memory", path);
  }
  for (;;) {
    if (n == cap) {
      if (cap > max_len) break;   /* holds max_len + 1 bytes: longer than the limit */
      size_t ncap = cap > max_len / 2 ? max_len + 1 : cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        close(fd);
        return cr_errf(e, "%s: out of memory", path);
      }
      buf = nb;
      cap = ncap;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0) {
      if (errno == EINTR) continue;
      int en = errno;
      free(buf);
      close(fd);
      return cr_errf(e, "%s: read error: %s", path, strerror(en));
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  close(fd);
  if (n > max_len) {
    if (!longer) {
      free(buf);
      return cr_errf(e, "%s: file longer than the limit of %zu bytes", path, max_len);
    }
    *longer = 1;
    n = max_len;
  }
  *data = buf;
  *len = n;
  return 0;
}

int cr_read_plain(const char *path, uint8_t **data, size_t *len, size_t max_len, cr_err *e) {
  return cr__read_regular(path, NULL, limit_or_default(max_len), data, len, NULL, e);
}

int cr_read_file(const char *path, uint8_t **data, size_t *len, size_t max_len, cr_err *e) {
  *data = NULL;
  *len = 0;
  max_len = limit_or_default(max_len);
  uint8_t *buf;
  size_t n;
  if (cr__read_regular(path, NULL, max_len, &buf, &n, NULL, e) != 0) return -1;
  if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
    uint8_t *out;
    size_t out_len;
    int rc = cr_gunzip(buf, n, &out, &out_len, max_len, path, e);
    free(buf);
    if (rc) return -1;
    *data = out;
    *len = out_len;
    return 0;
  }
  *data = buf;
  *len = n;
  return 0;
}

/* gzip of a buffer with a fixed header (no name, no mtime), so output is reproducible. */
static int gzip_buffer(const void *data, size_t len, uint8_t **out, size_t *out_len,
                       const char *path, cr_err *e) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return cr_errf(e, "%s: cannot initialise zlib", path);
  gz_header h;
  memset(&h, 0, sizeof h);
  h.os = 3;   /* Unix, fixed rather than whatever zlib's build says */
  deflateSetHeader(&zs, &h);
  size_t cap = len + len / 1000 + 1024, pos = 0, in_pos = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) { deflateEnd(&zs); return cr_errf(e, "%s: out of memory compressing", path); }
  const uint8_t *in = data;
  int rc;
  do {
    if (pos == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) { free(buf); deflateEnd(&zs); return cr_errf(e, "%s: out of memory compressing", path); }
      buf = nb;
      cap *= 2;
    }
    size_t in_chunk = len - in_pos, out_chunk = cap - pos;
    if (in_chunk > UINT32_MAX) in_chunk = UINT32_MAX;
    if (out_chunk > UINT32_MAX) out_chunk = UINT32_MAX;
    zs.next_in = (Bytef *)(uintptr_t)(in + in_pos);
    zs.avail_in = (uInt)in_chunk;
    zs.next_out = buf + pos;
    zs.avail_out = (uInt)out_chunk;
    rc = deflate(&zs, in_pos + in_chunk == len ? Z_FINISH : Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    pos += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_ERROR) { free(buf); deflateEnd(&zs); return cr_errf(e, "%s: zlib deflate failed", path); }
  } while (rc != Z_STREAM_END);
  deflateEnd(&zs);
  *out = buf;
  *out_len = pos;
  return 0;
}

int cr_write_file(const char *path, const void *data, size_t len, int gzip, cr_err *e) {
  uint8_t *packed = NULL;
  if (gzip) {
    size_t zlen = 0;
    if (gzip_buffer(data, len, &packed, &zlen, path, e)) return -1;
    data = packed;
    len = zlen;
  }
  cr_out o;
  int rc = cr_out_open(&o, path, e);
  if (!rc && (cr_out_write(&o, data, len, e) || cr_out_finish(&o, e) || cr_out_commit(&o, e))) {
    cr_out_abort(&o);
    rc = -1;
  }
  free(packed);
  return rc;
}
