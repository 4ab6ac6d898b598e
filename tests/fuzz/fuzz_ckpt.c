/* libFuzzer target: a checkpoint file (cr_ckpt_load_mem) for a fixed small "network" of the
 * trainer's shape: parts params (37 floats), opt (13 bytes), norm (2 floats), progress
 * (4 int64). Input: 1 flag byte, then the file. Flag bit 0 set: the header and payload
 * CRC-32s are recomputed first (where the header's size fields allow), so the fuzzer gets
 * past the CRCs to the directory, sizes and payload checks. Flag bit 1 set: loaded with
 * cr_ckpt_load_some_mem, progress optional (a 3-part file loads and leaves it untouched). A
 * loaded checkpoint must fill every part it has exactly; a refused one must leave the
 * caller's buffers untouched. */
#include <stdlib.h>
#include <string.h>

#include "cr.h"
#include "fuzz.h"

/* Header layout (cr.h): fixed 104 bytes, 40 per part, tail 16. */
#define FIXED 104
#define ENTRY 40

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_crcs(uint8_t *b, size_t len) {
  if (len < FIXED + 16) return;
  uint32_t hb = get32(b + 12);
  uint32_t np = get32(b + FIXED - 8);
  if (np > 64 || hb != FIXED + np * ENTRY + 16 || hb > len) return;
  put32(b + hb - 8, cr_crc32(0, b + hb, len - hb));   /* payload: whatever follows */
  put32(b + hb - 4, cr_crc32(0, b, hb - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t *b = malloc(size);
  if (!b) return 0;
  memcpy(b, data + 1, size - 1);
  size_t len = size - 1;
  if (data[0] & 1) fix_crcs(b, len);
  static const cr_shape shapes[2] = {{"0.weight", 6, 6}, {"0.bias", 1, 1}};
  cr_ckpt_id id = {"toy", 37, cr_shapes_hash(shapes, 2)};
  float params[37], norm[2];
  unsigned char opt[13];
  int64_t progress[4];
  memset(params, 0xa5, sizeof params), memset(opt, 0xa5, sizeof opt);
  memset(norm, 0xa5, sizeof norm), memset(progress, 0xa5, sizeof progress);
  cr_ckpt_part parts[4] = {{"params", params, sizeof params}, {"opt", opt, sizeof opt},
                           {"norm", norm, sizeof norm}, {"progress", progress, sizeof progress}};
  cr_err e;
  int loaded = -1;
  int rc = data[0] & 2 ? cr_ckpt_load_some_mem(b, len, "input.ckpt", &id, parts, 4, 3, &loaded, &e)
                       : cr_ckpt_load_mem(b, len, "input.ckpt", &id, parts, 4, &e);
  if (rc == 0 && !(data[0] & 2)) loaded = 4;   /* (cr_ckpt_load_mem has no count: all 4) */
  if (rc != 0) {
    /* refused: nothing copied out */
    const unsigned char *p = (const unsigned char *)params;
    for (size_t i = 0; i < sizeof params; i++)
      if (p[i] != 0xa5) abort();
    if (!memchr(e.msg, '\0', sizeof e.msg) || strchr(e.msg, '\n')) abort();
  } else {
    volatile unsigned s = 0;
    for (size_t i = 0; i < sizeof opt; i++) s += opt[i];
    (void)s;
    if (loaded != 4 && !(loaded == 3 && (data[0] & 2))) abort();
    const unsigned char *p = (const unsigned char *)progress;
    if (loaded == 3)   /* the part the file lacks is left as it was */
      for (size_t i = 0; i < sizeof progress; i++)
        if (p[i] != 0xa5) abort();
  }
  free(b);
  return 0;
}
