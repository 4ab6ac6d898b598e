/* Hostile files (issue 11): the reader policy (regular files only, never blocking on a FIFO,
 * size and inflate-ratio limits while reading), NaN/Inf in .npy inputs, trailing gzip
 * padding, formats chosen by name (.csv.gz, .npy.gz); the writer policy (symlinks, devices,
 * FIFOs, standard streams, planted temporary names, killed or limited writes, all or
 * nothing). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "rt_test.h"

/* Three things that are not regular files, and the word the message must use. */
typedef struct {
  const char *what;
  char path[512];
} nonreg;

static void nonregular(nonreg out[3]) {
  char *fifo = scratch_path("fifo"), *dir = scratch_path("adir");
  remove(fifo);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  ck_assert(mkdir(dir, 0700) == 0 || access(dir, F_OK) == 0);
  out[0].what = "is a FIFO";
  snprintf(out[0].path, sizeof out[0].path, "%s", fifo);
  out[1].what = "is a character device";
  snprintf(out[1].path, sizeof out[1].path, "/dev/zero");
  out[2].what = "is a directory";
  snprintf(out[2].path, sizeof out[2].path, "%s", dir);
  free(fifo);
  free(dir);
}

/* Every loader, given a FIFO (no writer: a blocking open would hang past the test's timeout),
 * /dev/zero (endless) and a directory, refuses at once with one line naming what it is. */
START_TEST(test_readers_refuse_non_regular_files) {
  nonreg nr[3];
  nonregular(nr);
  char *good = scratch_path("good-labels");
  uint8_t lab[64];
  uint32_t dims[1] = {4};
  write_bytes(good, lab, make_idx(lab, 8, 1, dims, 4));
  for (int i = 0; i < 3; i++) {
    const char *p = nr[i].path;
    cr_err e;
    uint8_t *buf;
    size_t len;
    cr_dataset d;
    cr_npy a;
    cr_norm nm;
    ck_assert_err(cr_read_file(p, &buf, &len, 0, &e), e, p, nr[i].what);
    ck_assert_err(cr_npy_load(&a, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_csv_load(&d, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_idx_load(&d, p, good, &e), e, p, nr[i].what);
    ck_assert_err(cr_idx_load(&d, good, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_inputs_load(&d, p, &e), e, p, nr[i].what);
    ck_assert_err(cr_norm_load(&nm, p, &e), e, p, nr[i].what);
    float w[4];
    cr_ckpt_id id = {"toy", 4, 1};
    cr_ckpt_part parts[1] = {{"params", w, sizeof w}};
    ck_assert_err(cr_ckpt_load(p, &id, parts, 1, &e), e, p, nr[i].what);
    ck_assert_msg(!strchr(e.msg, '\n'), "one line: %s", e.msg);
  }
  free(good);
}
END_TEST

/* n zero bytes, gzip-compressed at level 9 in chunks (never n bytes in memory at once). */
static uint8_t *gzip_zeros(size_t n, size_t *out_len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  static uint8_t zeros[1 << 16];
  size_t cap = n / 500 + 4096, pos = 0, left = n;
  uint8_t *out = malloc(cap);
  int rc;
  do {
    size_t chunk = left < sizeof zeros ? left : sizeof zeros;
    left -= chunk;
    zs.next_in = zeros;
    zs.avail_in = (uInt)chunk;
    do {
      if (pos == cap) out = realloc(out, cap *= 2);
      zs.next_out = out + pos;
      zs.avail_out = (uInt)(cap - pos);
      rc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
      pos = cap - zs.avail_out;
    } while (zs.avail_out == 0 || (!left && rc != Z_STREAM_END));
  } while (left);
  deflateEnd(&zs);
  *out_len = pos;
  return out;
}

/* A gzip bomb: 64 MB of zeros in ~64 KB. The limit is CR_MAX_INFLATE_RATIO times the input
 * (+ CR_INFLATE_SLACK), checked while inflating, far below the 2 GB file limit; the same
 * zeros at a ratio within the limit still decompress. */
START_TEST(test_gzip_bomb_refused_by_ratio) {
  size_t glen;
  uint8_t *bomb = gzip_zeros((size_t)64 << 20, &glen);
  size_t bound = glen * CR_MAX_INFLATE_RATIO + CR_INFLATE_SLACK;
  ck_assert_msg(bound < ((size_t)64 << 20), "test input does not exceed the ratio (%zu)", glen);
  cr_err e;
  uint8_t *out;
  size_t n;
  ck_assert_err(cr_gunzip(bomb, glen, &out, &n, 0, "bomb.gz", &e), e, "bomb.gz", "gzip bomb");
  ck_assert_ptr_null(out);
  char *p = scratch_path("bomb-idx.gz");
  write_bytes(p, bomb, glen);
  ck_assert_err(cr_read_file(p, &out, &n, 0, &e), e, p, "gzip bomb");
  cr_dataset d;
  ck_assert_err(cr_inputs_load(&d, p, &e), e, p, "gzip bomb");
  free(bomb);
  /* 1 MB of zeros: ~1 KB, within the slack */
  bomb = gzip_zeros((size_t)1 << 20, &glen);
  ck_assert_msg(cr_gunzip(bomb, glen, &out, &n, 0, "ok.gz", &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(n, (size_t)1 << 20);
  free(out);
  free(bomb);
  free(p);
}
END_TEST

/* Zero padding after the last gzip member (tape blocks, dd) is ignored, as gzip -d does;
 * anything else after it is still garbage. */
START_TEST(test_gzip_trailing_zero_padding) {
  uint8_t data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
  size_t glen;
  uint8_t *gz = gzip_bytes(data, sizeof data, &glen);
  uint8_t *padded = calloc(glen + 1024, 1);
  memcpy(padded, gz, glen);
  cr_err e;
  uint8_t *out;
  size_t n;
  ck_assert_msg(cr_gunzip(padded, glen + 1024, &out, &n, 0, "pad.gz", &e) == 0, "%s", e.msg);
  ck_assert_uint_eq(n, sizeof data);
  ck_assert(memcmp(out, data, n) == 0);
  free(out);
  padded[glen + 1000] = 'x';
  ck_assert_err(cr_gunzip(padded, glen + 1024, &out, &n, 0, "pad.gz", &e), e, "pad.gz", "garbage");
  free(padded);
  free(gz);
}
END_TEST

/* NaN or Inf in float .npy inputs is refused naming the file, the sample and the value
 * (CSV refuses them already), for labelled sets and for prediction inputs. */
START_TEST(test_npy_nonfinite_inputs_refused) {
  float x[3][4];
  for (int i = 0; i < 12; i++) x[i / 4][i % 4] = (float)i * 0.25f;
  x[1][2] = strtof("nan", NULL);
  uint8_t y[3] = {0, 1, 2};
  char *xp = scratch_path("nan-x.npy"), *yp = scratch_path("nan-y.npy");
  size_t xs[2] = {3, 4}, ys[1] = {3};
  cr_err e;
  ck_assert_msg(cr_npy_save(xp, CR_F32, x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_npy_save(yp, CR_U8, y, 1, ys, &e) == 0, "%s", e.msg);
  cr_dataset d;
  ck_assert_err(cr_inputs_load(&d, xp, &e), e, xp, "sample 1 holds NaN at value 2");
  ck_assert_err(cr_dataset_load(&d, xp, yp, &e), e, xp, "sample 1 holds NaN at value 2");
  x[1][2] = 1.0f;
  x[2][3] = -strtof("inf", NULL);
  ck_assert_msg(cr_npy_save(xp, CR_F32, x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_err(cr_inputs_load(&d, xp, &e), e, xp, "sample 2 holds -Inf at value 3");
  x[2][3] = 3.4028235e38f;   /* FLT_MAX is finite: accepted */
  ck_assert_msg(cr_npy_save(xp, CR_F32, x, 2, xs, &e) == 0, "%s", e.msg);
  ck_assert_msg(cr_dataset_load(&d, xp, yp, &e) == 0, "%s", e.msg);
  ck_assert(d.x[11] == x[2][3]);
  cr_dataset_free(&d);
  free(xp);
  free(yp);
}
END_TEST

/* The format is chosen by name with or without .gz: a .csv.gz is CSV, an .npy.gz is .npy
 * (not IDX), and they load to what the plain files load to. */
START_TEST(test_gz_names_choose_the_format) {
  float x[2][3] = {{0.5f, -1.0f, 2.0f}, {3.0f, 0.0f, 0.25f}};
  uint8_t y[2] = {4, 7};
  cr_dataset src = {2, 3, 1, 3, &x[0][0], y, 0};
  char *cp = scratch_path("set.csv.gz"), *np = scratch_path("in.npy"), *ngz = scratch_path("in.npy.gz");
  cr_err e;
  ck_assert_msg(cr_csv_save(cp, &src, 1, &e) == 0, "%s", e.msg);
  size_t raw_len;
  uint8_t *raw = read_bytes(cp, &raw_len);
  ck_assert_msg(raw[0] == 0x1f && raw[1] == 0x8b, "CSV .gz not compressed");
  free(raw);
  cr_dataset d;
  ck_assert_msg(cr_dataset_load(&d, cp, NULL, &e) == 0, "%s", e.msg);
  ck_assert(d.n == 2 && d.dim == 3 && d.y[1] == 7 && memcmp(d.x, x, sizeof x) == 0);
  cr_dataset_free(&d);
  ck_assert_err(cr_dataset_load(&d, cp, "labels", &e), e, cp, "holds its own labels");
  size_t shape[2] = {2, 3};
  ck_assert_msg(cr_npy_save(np, CR_F32, x, 2, shape, &e) == 0, "%s", e.msg);
  uint8_t *plain = read_bytes(np, &raw_len);
  ck_assert_msg(cr_write_file(ngz, plain, raw_len, 1, &e) == 0, "%s", e.msg);
  free(plain);
  ck_assert_msg(cr_inputs_load(&d, ngz, &e) == 0, "%s", e.msg);
  ck_assert(d.n == 2 && d.dim == 3 && memcmp(d.x, x, sizeof x) == 0);
  cr_dataset_free(&d);
  free(cp);
  free(np);
  free(ngz);
}
END_TEST

/* ---------------------------------------------------------------- writers */

/* Names in the scratch folder other than the ones listed (NULL-terminated): what a write
 * left behind. */
static int leftovers(const char *const *keep, char *first, size_t cap) {
  char *dir = scratch_path("w");
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    int listed = 0;
    for (const char *const *k = keep; *k; k++) listed |= !strcmp(*k, de->d_name);
    if (!listed && n++ == 0) snprintf(first, cap, "%s", de->d_name);
  }
  closedir(d);
  free(dir);
  return n;
}

static char *wpath(const char *name) {
  char buf[256];
  snprintf(buf, sizeof buf, "w/%s", name);
  return scratch_path(buf);
}

static void fresh_w(void) {
  char *dir = scratch_path("w");
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  free(dir);
}

static void expect_bytes(const char *path, const char *want) {
  size_t len;
  uint8_t *got = read_bytes(path, &len);
  ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0, "%s holds '%.*s', expected '%s'",
                path, (int)len, (const char *)got, want);
  free(got);
}

/* A symlink's target is replaced and the link kept; a dangling link is refused; a replaced
 * file keeps its permission bits; a directory is refused. */
START_TEST(test_write_symlinks_modes_directories) {
  fresh_w();
  char *target = wpath("real.ckpt"), *link = wpath("link.ckpt"), *dang = wpath("dangling");
  cr_err e;
  write_bytes(target, "old", 3);
  ck_assert_int_eq(chmod(target, 0640), 0);
  ck_assert_int_eq(symlink("real.ckpt", link), 0);
  ck_assert_msg(cr_write_file(link, "new!", 4, 0, &e) == 0, "%s", e.msg);
  struct stat st;
  ck_assert_int_eq(lstat(link, &st), 0);
  ck_assert_msg(S_ISLNK(st.st_mode), "the symlink was replaced by a file");
  expect_bytes(target, "new!");
  ck_assert_int_eq(stat(target, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0640);
  ck_assert_int_eq(symlink("missing-target", dang), 0);
  ck_assert_err(cr_write_file(dang, "x", 1, 0, &e), e, dang, "symbolic link to a missing file");
  char *miss = wpath("missing-target");
  ck_assert_int_ne(access(miss, F_OK), 0);
  char *dir = scratch_path("w");
  ck_assert_err(cr_write_file(dir, "x", 1, 0, &e), e, dir, "is a directory");
  char first[256] = "";
  const char *const keep[] = {"real.ckpt", "link.ckpt", "dangling", NULL};
  ck_assert_msg(leftovers(keep, first, sizeof first) == 0, "left behind: %s", first);
  free(target), free(link), free(dang), free(miss), free(dir);
}
END_TEST

/* Predictable temporary names are no lever: symlinks planted at the old names (PATH.tmp,
 * PATH.tmp.PID.K, the plot's PATH.tmp.png) point at a victim that must stay as it is. */
START_TEST(test_write_ignores_planted_temp_names) {
  fresh_w();
  char *victim = wpath("victim"), *out = wpath("out.bin");
  write_bytes(victim, "precious", 8);
  const char *plants[] = {"out.bin.tmp", "out.bin.tmp.png", "out.bin.tmp.%ld.0", "out.bin.tmp.%ld.1"};
  for (int i = 0; i < COUNT(plants); i++) {
    char name[128];
    snprintf(name, sizeof name, plants[i], (long)getpid());
    char *p = wpath(name);
    ck_assert_int_eq(symlink("victim", p), 0);
    free(p);
  }
  cr_err e;
  for (int k = 0; k < 3; k++) ck_assert_msg(cr_write_file(out, "data", 4, 0, &e) == 0, "%s", e.msg);
  expect_bytes(victim, "precious");
  expect_bytes(out, "data");
  free(victim), free(out);
}
END_TEST

/* Devices and FIFOs are written in place and stay what they are; a FIFO nobody reads is
 * refused at once; /dev/full's error is reported; /dev/stdout writes to fd 1 (its offset and
 * append mode). */
START_TEST(test_write_devices_fifos_streams) {
  fresh_w();
  cr_err e;
  struct stat st;
  ck_assert_msg(cr_write_file("/dev/null", "x", 1, 0, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(stat("/dev/null", &st), 0);
  ck_assert_msg(S_ISCHR(st.st_mode), "/dev/null is no longer a device");
  ck_assert_err(cr_write_file("/dev/full", "x", 1, 0, &e), e, "/dev/full", "write failed: No space left");
  char *fifo = wpath("fifo");
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  ck_assert_err(cr_write_file(fifo, "x", 1, 0, &e), e, fifo, "a FIFO that nobody reads");
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {   /* the reader: copies the FIFO into got */
    char buf[64];
    int in = open(fifo, O_RDONLY);
    ssize_t n = in >= 0 ? read(in, buf, sizeof buf) : -1;
    char *got = wpath("got");
    FILE *f = fopen(got, "wb");
    if (f && n > 0) fwrite(buf, 1, (size_t)n, f);
    if (f) fclose(f);
    _exit(n > 0 ? 0 : 1);
  }
  int rc = -1;
  for (int tries = 0; tries < 200 && rc != 0; tries++) {   /* until the reader has opened it */
    rc = cr_write_file(fifo, "through the pipe", 16, 0, &e);
    if (rc) nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  ck_assert_msg(rc == 0, "%s", e.msg);
  int st2;
  ck_assert_int_eq(waitpid(pid, &st2, 0), pid);
  ck_assert(WIFEXITED(st2) && WEXITSTATUS(st2) == 0);
  char *got = wpath("got");
  expect_bytes(got, "through the pipe");
  ck_assert_int_eq(lstat(fifo, &st), 0);
  ck_assert_msg(S_ISFIFO(st.st_mode), "the FIFO was replaced");
  /* /dev/stdout appends to what fd 1 is (here a file opened with O_APPEND) */
  char *so = wpath("stdout.txt");
  write_bytes(so, "old,", 4);
  fflush(stdout);
  int saved = dup(1), f = open(so, O_WRONLY | O_APPEND);
  ck_assert(saved >= 0 && f >= 0);
  dup2(f, 1);
  close(f);
  rc = cr_write_file("/dev/stdout", "new", 3, 0, &e);
  dup2(saved, 1);
  close(saved);
  ck_assert_msg(rc == 0, "%s", e.msg);
  expect_bytes(so, "old,new");
  free(fifo), free(got), free(so);
}
END_TEST

/* A process killed in the middle of a write (here by SIGXFSZ past RLIMIT_FSIZE, as kill -9
 * would) leaves the old file and nothing else; with SIGXFSZ ignored (the trainer and the
 * generator ignore it) the write fails with a message, and again nothing is left. */
START_TEST(test_write_killed_or_limited_leaves_nothing) {
  fresh_w();
  char *p = wpath("big.bin");
  write_bytes(p, "old", 3);
  enum { N = 1 << 20 };
  for (int ignore = 0; ignore < 2; ignore++) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
      struct rlimit rl = {65536, 65536};
      setrlimit(RLIMIT_FSIZE, &rl);
      signal(SIGXFSZ, ignore ? SIG_IGN : SIG_DFL);
      char *data = calloc(N, 1);
      cr_err e;
      int rc = cr_write_file(p, data, N, 0, &e);
      _exit(rc == -1 && strstr(e.msg, "big.bin: write failed: File too large") ? 7 : 0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    if (ignore)
      ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 7, "write past the limit not reported");
    else
      ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ, "not killed by SIGXFSZ");
    expect_bytes(p, "old");
    char first[256] = "";
    const char *const keep[] = {"big.bin", NULL};
    ck_assert_msg(leftovers(keep, first, sizeof first) == 0, "left behind (%s): %s",
                  ignore ? "SIGXFSZ ignored" : "killed", first);
  }
  free(p);
}
END_TEST

/* cr_out as a transaction: two files written and finished, then one fails (a directory as
 * the third target): aborting all leaves the first two untouched. */
START_TEST(test_out_all_or_nothing) {
  fresh_w();
  char *a = wpath("x.h"), *b = wpath("x.c"), *dir = scratch_path("w");
  write_bytes(a, "old h", 5);
  write_bytes(b, "old c", 5);
  cr_out o[3];
  cr_err e;
  ck_assert_int_eq(cr_out_open(&o[0], a, &e), 0);
  ck_assert_int_eq(cr_out_write(&o[0], "new h", 5, &e), 0);
  ck_assert_int_eq(cr_out_finish(&o[0], &e), 0);
  ck_assert_int_eq(cr_out_open(&o[1], b, &e), 0);
  ck_assert_int_eq(cr_out_write(&o[1], "new c", 5, &e), 0);
  ck_assert_int_eq(cr_out_finish(&o[1], &e), 0);
  ck_assert_err(cr_out_open(&o[2], dir, &e), e, dir, "is a directory");
  cr_out_abort(&o[0]);
  cr_out_abort(&o[1]);
  expect_bytes(a, "old h");
  expect_bytes(b, "old c");
  char first[256] = "";
  const char *const keep[] = {"x.h", "x.c", NULL};
  ck_assert_msg(leftovers(keep, first, sizeof first) == 0, "left behind: %s", first);
  free(a), free(b), free(dir);
}
END_TEST

Suite *suite_hostile(void) {
  Suite *s = suite_create("hostile");
  TCase *t = tcase_create("readers");
  tcase_set_timeout(t, 30);
  tcase_add_test(t, test_readers_refuse_non_regular_files);
  tcase_add_test(t, test_gzip_bomb_refused_by_ratio);
  tcase_add_test(t, test_gzip_trailing_zero_padding);
  tcase_add_test(t, test_npy_nonfinite_inputs_refused);
  tcase_add_test(t, test_gz_names_choose_the_format);
  suite_add_tcase(s, t);
  TCase *w = tcase_create("writers");
  tcase_set_timeout(w, 30);
  tcase_add_test(w, test_write_symlinks_modes_directories);
  tcase_add_test(w, test_write_ignores_planted_temp_names);
  tcase_add_test(w, test_write_devices_fifos_streams);
  tcase_add_test(w, test_write_killed_or_limited_leaves_nothing);
  tcase_add_test(w, test_out_all_or_nothing);
  suite_add_tcase(s, w);
  return s;
}
