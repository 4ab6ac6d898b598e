/* cr_ckpt.c — checkpoints: a versioned, CRC-checked header and payload of named parts,
 * written atomically (cr_write_file). Layout in cr.h. Like the rest of the runtime it
 * prints nothing: every refusal is a one-line message in the caller's cr_err. */
#define _POSIX_C_SOURCE 200809L
#include "cr_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ckpt_magic[8] = {'C', 'R', 'C', 'K', 'P', 'T', '\r', '\n'};
#define CKPT_MAX_PARTS 64
/* fixed header bytes before the part directory, and per directory entry */
#define CKPT_FIXED (8 + 4 + 4 + CR_CKPT_NAME_MAX + 8 + 8 + 4 + 4)
#define CKPT_ENTRY (CR_CKPT_PART_NAME_MAX + 8)
#define CKPT_TAIL (8 + 4 + 4)

/* Nibble-table CRC-32: small, no global state beyond a const table. */
uint32_t cr_crc32(uint32_t crc, const void *data, size_t bytes) {
  static const uint32_t tab[16] = {
      0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
      0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
      0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < bytes; i++) {
    crc ^= p[i];
    crc = (crc >> 4) ^ tab[crc & 15];
    crc = (crc >> 4) ^ tab[crc & 15];
  }
  return ~crc;
}

uint64_t cr_shapes_hash(const cr_shape *shapes, int n) {
  return cr_shapes_hash_more(CR_SHAPES_HASH_INIT, shapes, n);
}

uint64_t cr_shapes_hash_more(uint64_t h, const cr_shape *shapes, int n) {
  for (int i = 0; i < n; i++) {
    char buf[128];
    int len = snprintf(buf, sizeof buf, "%s:%d:%d;", shapes[i].name, shapes[i].rows, shapes[i].cols);
    if (len < 0) len = 0;
    if ((size_t)len >= sizeof buf) len = (int)sizeof buf - 1;
    for (int k = 0; k < len; k++) {
      h ^= (unsigned char)buf[k];
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* A name read from a file, made safe for a one-line message: bytes outside printable ASCII
 * become '?' (a name with "\r\n" in it would otherwise break the message's line). Our own
 * names are printable, so a comparison with them is not changed by this. */
static void printable(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 32 || (unsigned char)*s > 126) *s = '?';
}

static size_t header_bytes(int nparts) {
  return (size_t)CKPT_FIXED + (size_t)nparts * CKPT_ENTRY + CKPT_TAIL;
}

int cr_ckpt_save(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                 int nparts, cr_err *e) {
  if (nparts < 0 || nparts > CKPT_MAX_PARTS)
    return cr_errf(e, "%s: bad part count %d", path, nparts);
  if (strlen(id->net) >= CR_CKPT_NAME_MAX)
    return cr_errf(e, "%s: network name too long", path);
  size_t hb = header_bytes(nparts);
  unsigned char *h = calloc(1, hb);
  if (!h) return cr_errf(e, "%s: out of memory", path);
  unsigned char *p = h;
  memcpy(p, ckpt_magic, 8), p += 8;
  put32(p, CR_CKPT_VERSION), p += 4;
  put32(p, (uint32_t)hb), p += 4;
  memcpy(p, id->net, strlen(id->net)), p += CR_CKPT_NAME_MAX;
  put64(p, id->param_count), p += 8;
  put64(p, id->shapes_hash), p += 8;
  put32(p, (uint32_t)nparts), p += 4;
  put32(p, 0), p += 4;
  uint32_t crc = 0;
  uint64_t total = 0;
  for (int i = 0; i < nparts; i++) {
    size_t nl = strlen(parts[i].name);
    if (nl >= CR_CKPT_PART_NAME_MAX) {
      free(h);
      return cr_errf(e, "%s: part name '%s' too long", path, parts[i].name);
    }
    memcpy(p, parts[i].name, nl), p += CR_CKPT_PART_NAME_MAX;
    put64(p, parts[i].bytes), p += 8;
    crc = cr_crc32(crc, parts[i].data, parts[i].bytes);
    total += parts[i].bytes;
  }
  put64(p, total), p += 8;
  put32(p, crc), p += 4;
  put32(p, cr_crc32(0, h, (size_t)(p - h))), p += 4;

  unsigned char *file = realloc(h, hb + (size_t)total);
  if (!file) {
    free(h);
    return cr_errf(e, "%s: out of memory", path);
  }
  unsigned char *q = file + hb;
  for (int i = 0; i < nparts; i++) {
    memcpy(q, parts[i].data, parts[i].bytes);
    q += parts[i].bytes;
  }
  int rc = cr_write_file(path, file, hb + (size_t)total, 0, e);
  free(file);
  return rc;
}

/* The expected size of a checkpoint with these parts (header + payload), or 0 when it
 * overflows. */
static uint64_t expected_bytes(const cr_ckpt_part *parts, int nparts) {
  uint64_t want = header_bytes(nparts);
  for (int i = 0; i < nparts; i++) {
    if (parts[i].bytes > SIZE_MAX / 2 - want) return 0;
    want += parts[i].bytes;
  }
  return want;
}

int cr_ckpt_load(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                 int nparts, cr_err *e) {
  int loaded;
  return cr_ckpt_load_some(path, id, parts, nparts, nparts, &loaded, e);
}

int cr_ckpt_load_mem(const uint8_t *buf, size_t got, const char *path, const cr_ckpt_id *id,
                     const cr_ckpt_part *parts, int nparts, cr_err *e) {
  int loaded;
  return cr_ckpt_load_some_mem(buf, got, path, id, parts, nparts, nparts, &loaded, e);
}

int cr_ckpt_load_some(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                      int nparts, int required, int *loaded, cr_err *e) {
  if (nparts < 0 || nparts > CKPT_MAX_PARTS)
    return cr_errf(e, "%s: bad part count %d", path, nparts);
  uint64_t want = expected_bytes(parts, nparts);
  if (!want) return cr_errf(e, "%s: checkpoint parts too large", path);
  /* The expected size is known from the caller's parts: read at most one byte more (the
     reader policy: a regular file only, never blocking on a FIFO). */
  uint8_t *buf;
  size_t got;
  int longer;
  if (cr__read_regular(path, "checkpoint", (size_t)want + 1, &buf, &got, &longer, e) != 0)
    return -1;
  int rc = cr_ckpt_load_some_mem(buf, got, path, id, parts, nparts, required, loaded, e);
  free(buf);
  return rc;
}

int cr_ckpt_load_some_mem(const uint8_t *buf, size_t got, const char *path, const cr_ckpt_id *id,
                          const cr_ckpt_part *parts, int nparts, int required, int *loaded,
                          cr_err *e) {
  if (nparts < 0 || nparts > CKPT_MAX_PARTS)
    return cr_errf(e, "%s: bad part count %d", path, nparts);
  if (required < 0 || required > nparts)
    return cr_errf(e, "%s: bad required part count %d of %d", path, required, nparts);
  size_t hb = header_bytes(nparts);
  uint64_t want = expected_bytes(parts, nparts);
  if (!want) return cr_errf(e, "%s: checkpoint parts too large", path);
  int rc = -1;
  const unsigned char *p = buf;
  if (got < 16 || memcmp(p, ckpt_magic, 8) != 0) {
    if (got >= 8 && memcmp(p, ckpt_magic, 8) != 0)
      cr_errf(e, "%s: not a chainrule checkpoint (bad magic)", path);
    else
      cr_errf(e, "%s: checkpoint truncated (%zu bytes, header is %zu)", path, got, hb);
    goto out;
  }
  uint32_t version = get32(p + 8);
  if (version != CR_CKPT_VERSION) {
    cr_errf(e, "%s: checkpoint format version %u, this program reads version %u", path,
         version, CR_CKPT_VERSION);
    goto out;
  }
  uint32_t file_hb = get32(p + 12);
  if (got < CKPT_FIXED + CKPT_TAIL) {
    cr_errf(e, "%s: checkpoint truncated (%zu bytes, header is %zu)", path, got, hb);
    goto out;
  }
  uint32_t file_nparts = get32(p + CKPT_FIXED - 8);
  if (file_nparts > CKPT_MAX_PARTS || file_hb != header_bytes((int)file_nparts)) {
    cr_errf(e, "%s: checkpoint header corrupt (size fields inconsistent)", path);
    goto out;
  }
  if (got < file_hb) {
    cr_errf(e, "%s: checkpoint truncated (%zu bytes, header is %u)", path, got, file_hb);
    goto out;
  }
  if (get32(p + file_hb - 4) != cr_crc32(0, p, file_hb - 4)) {
    cr_errf(e, "%s: checkpoint header corrupt (CRC32 mismatch)", path);
    goto out;
  }
  char name[CR_CKPT_NAME_MAX + 1];
  memcpy(name, p + 16, CR_CKPT_NAME_MAX);
  name[CR_CKPT_NAME_MAX] = '\0';
  printable(name);
  if (strcmp(name, id->net) != 0) {
    cr_errf(e, "%s: checkpoint is for network '%s', this program trains '%s'", path, name,
         id->net);
    goto out;
  }
  uint64_t pc = get64(p + 16 + CR_CKPT_NAME_MAX), sh = get64(p + 24 + CR_CKPT_NAME_MAX);
  if (pc != id->param_count || sh != id->shapes_hash) {
    cr_errf(e,
         "%s: checkpoint's parameter shapes differ from this network's (%llu vs %llu parameters)",
         path, (unsigned long long)pc, (unsigned long long)id->param_count);
    goto out;
  }
  /* A file written before the caller's last parts existed has fewer: its own are checked
     and loaded, the missing ones left as the caller set them. */
  if ((int)file_nparts > nparts || (int)file_nparts < required) {
    if (required == nparts)
      cr_errf(e, "%s: checkpoint has %u parts, this program expects %d", path, file_nparts,
              nparts);
    else
      cr_errf(e, "%s: checkpoint has %u parts, this program expects %d to %d", path,
              file_nparts, required, nparts);
    goto out;
  }
  nparts = (int)file_nparts;
  hb = file_hb;
  want = expected_bytes(parts, nparts);
  const unsigned char *d = p + CKPT_FIXED;
  for (int i = 0; i < nparts; i++, d += CKPT_ENTRY) {
    char pn[CR_CKPT_PART_NAME_MAX + 1];
    memcpy(pn, d, CR_CKPT_PART_NAME_MAX);
    pn[CR_CKPT_PART_NAME_MAX] = '\0';
    printable(pn);
    uint64_t b = get64(d + CR_CKPT_PART_NAME_MAX);
    if (strcmp(pn, parts[i].name) != 0) {
      cr_errf(e, "%s: checkpoint part %d is '%s', expected '%s'", path, i, pn,
           parts[i].name);
      goto out;
    }
    if (b != parts[i].bytes) {
      cr_errf(e, "%s: checkpoint part '%s' has %llu bytes, this program's is %zu bytes "
           "(built from a different spec or ISA?)", path, pn, (unsigned long long)b,
           parts[i].bytes);
      goto out;
    }
  }
  uint64_t payload = get64(d);
  uint32_t pcrc = get32(d + 8);
  if (payload != want - hb) {
    cr_errf(e, "%s: checkpoint header corrupt (payload size %llu)", path,
         (unsigned long long)payload);
    goto out;
  }
  if (got < want) {
    cr_errf(e, "%s: checkpoint truncated (%zu of %llu bytes)", path, got,
         (unsigned long long)want);
    goto out;
  }
  if (got > want) {
    cr_errf(e, "%s: checkpoint has trailing bytes after the payload", path);
    goto out;
  }
  uint32_t c = cr_crc32(0, p + hb, (size_t)payload);
  if (c != pcrc) {
    cr_errf(e, "%s: checkpoint payload corrupt (CRC32 %08x, header says %08x)", path, c,
         pcrc);
    goto out;
  }
  const unsigned char *q = p + hb;
  for (int i = 0; i < nparts; i++) {
    memcpy(parts[i].data, q, parts[i].bytes);
    q += parts[i].bytes;
  }
  *loaded = nparts;
  rc = 0;
out:
  return rc;
}
