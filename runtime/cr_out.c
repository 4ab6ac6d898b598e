/* cr_out.c — the writer policy (cr.h, "writing files"): how every output of the runtime, the
 * trainer and the generator reaches its name. A regular file (or a new name) is replaced
 * atomically through an anonymous or unpredictably named temporary in the target's folder; a
 * symlink's target is replaced and the link kept; devices, FIFOs and the standard streams are
 * written in place; every error is reported and leaves nothing behind. */
#define _GNU_SOURCE 1   /* O_TMPFILE (Linux); everything else here is POSIX.1-2008 */
#include "cr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 64 random bits for a temporary name: /dev/urandom, else a mix of clock, pid, an address
 * and a counter (splitmix64). Unpredictable names only make a name clash unlikely: the
 * O_EXCL | O_NOFOLLOW create is what makes a planted file or symlink harmless. */
static unsigned long long random64(void) {
  static unsigned long long counter;
  unsigned long long r = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t got = read(fd, &r, sizeof r);
    close(fd);
    if (got == (ssize_t)sizeof r) return r;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  r = (unsigned long long)ts.tv_nsec ^ (unsigned long long)ts.tv_sec << 30 ^
      (unsigned long long)getpid() << 40 ^ (unsigned long long)(uintptr_t)&r ^ ++counter;
  r += 0x9e3779b97f4a7c15ull;
  r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
  r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
  return r ^ (r >> 31);
}

/* The fd a standard-stream name stands for (/dev/stdout, /dev/stderr, /dev/fd/N,
 * /proc/self/fd/N), or -1. */
static int stream_fd(const char *path) {
  if (!strcmp(path, "/dev/stdout")) return 1;
  if (!strcmp(path, "/dev/stderr")) return 2;
  const char *n = !strncmp(path, "/dev/fd/", 8) ? path + 8
                  : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
  if (!n || !*n) return -1;
  char *end;
  long v = strtol(n, &end, 10);
  return *end || v < 0 || v > INT_MAX ? -1 : (int)v;
}

static const char *kind_of(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "a special file";
}

/* "DIR/.BASE.tmp-RANDOM" beside target (a fresh buffer). */
static char *temp_name(const char *target) {
  const char *slash = strrchr(target, '/');
  size_t dlen = slash ? (size_t)(slash - target) + 1 : 0;
  const char *base = slash ? slash + 1 : target;
  size_t blen = strlen(base);
  if (blen > 200) blen = 200;   /* stays under NAME_MAX with the suffix */
  size_t cap = dlen + blen + 32;
  char *t = malloc(cap);
  if (t)
    snprintf(t, cap, "%.*s.%.*s.tmp-%016llx", (int)dlen, target, (int)blen, base, random64());
  return t;
}

/* The folder of target, for O_TMPFILE (a fresh buffer). */
static char *folder_of(const char *target) {
  const char *slash = strrchr(target, '/');
  if (!slash) return strdup(".");
  if (slash == target) return strdup("/");
  size_t n = (size_t)(slash - target);
  char *d = malloc(n + 1);
  if (d) memcpy(d, target, n), d[n] = '\0';
  return d;
}

static int fail(cr_out *o, cr_err *e, const char *fmt, const char *detail) {
  cr_errf(e, fmt, o->path, detail);
  cr_out_abort(o);
  return -1;
}

/* A device, FIFO or socket: opened for writing in place (never replaced). */
static int open_through(cr_out *o, const struct stat *st, cr_err *e) {
  /* O_NONBLOCK: a FIFO nobody reads is refused (ENXIO) instead of waited for. */
  int fd = open(o->path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENXIO)
      return fail(o, e, "%s: is %s that nobody reads (not written)", kind_of(st->st_mode));
    return fail(o, e, "%s: cannot open for writing: %s", strerror(errno));
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl != -1) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  o->fd = fd;
  o->through = 1;
  return 0;
}

int cr_out_open(cr_out *o, const char *path, cr_err *e) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  o->path = path;
  int sfd = stream_fd(path);
  if (sfd >= 0) {
    int fl = fcntl(sfd, F_GETFL);
    if (fl == -1 || (fl & O_ACCMODE) == O_RDONLY)
      return fail(o, e, "%s: %s", fl == -1 ? "no such open file" : "open for reading only");
    o->fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
    if (o->fd < 0) return fail(o, e, "%s: %s", strerror(errno));
    o->through = 1;
    return 0;
  }
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return fail(o, e, "%s: is a directory%s", "");
    if (!S_ISREG(st.st_mode)) return open_through(o, &st, e);
    o->target = realpath(path, NULL);   /* a symlink's target is what gets replaced */
    if (!o->target) return fail(o, e, "%s: cannot resolve: %s", strerror(errno));
    o->keep_mode = 1;
    o->mode = (unsigned)(st.st_mode & 07777);
  } else if (errno == ENOENT) {
    struct stat ls;
    if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode))
      return fail(o, e, "%s: is a symbolic link to a missing file (not followed)%s", "");
    o->target = strdup(path);
    if (!o->target) return fail(o, e, "%s: %s", "out of memory");
  } else {
    return fail(o, e, "%s: cannot stat: %s", strerror(errno));
  }
#ifdef O_TMPFILE
  /* An anonymous file: nothing to clean up if the process dies before it is named. Naming
     it needs /proc/self/fd (linkat); without that, or on a file system without O_TMPFILE,
     a named temporary is used. */
  if (access("/proc/self/fd", X_OK) == 0) {
    char *dir = folder_of(o->target);
    if (dir) o->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    free(dir);
    if (o->fd >= 0) o->anon = 1;
  }
#endif
  if (o->fd < 0) {
    int err = 0;
    for (int k = 0; k < 100 && o->fd < 0; k++) {
      free(o->tmp);
      o->tmp = temp_name(o->target);
      if (!o->tmp) return fail(o, e, "%s: %s", "out of memory");
      o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
      err = errno;
      if (o->fd < 0 && err != EEXIST) break;
    }
    if (o->fd < 0) {
      free(o->tmp);
      o->tmp = NULL;   /* never created: nothing to remove */
      return fail(o, e, "%s: cannot create a temporary file beside it: %s", strerror(err));
    }
  }
  /* Replacing a file keeps its permission bits (best effort: we may not own it). */
  if (o->keep_mode && fchmod(o->fd, (mode_t)o->mode) != 0) { /* not an error */ }
  return 0;
}

int cr_out_write(cr_out *o, const void *data, size_t len, cr_err *e) {
  const unsigned char *p = data;
  while (len > 0) {
    ssize_t w = write(o->fd, p, len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return cr_errf(e, "%s: write failed: %s", o->path, strerror(errno));
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int cr_out_finish(cr_out *o, cr_err *e) {
  if (o->through) return 0;   /* devices and streams: nothing to make durable */
  if (fsync(o->fd) != 0 && errno != EINVAL)
    return cr_errf(e, "%s: fsync failed: %s", o->path, strerror(errno));
  return 0;
}

int cr_out_commit(cr_out *o, cr_err *e) {
  if (o->through) {
    int rc = close(o->fd);
    o->fd = -1;
    if (rc != 0) return fail(o, e, "%s: close failed: %s", strerror(errno));
    cr_out_abort(o);
    return 0;
  }
#ifdef O_TMPFILE
  if (o->anon) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
    int err = EEXIST;
    for (int k = 0; k < 100 && err == EEXIST; k++) {
      free(o->tmp);
      o->tmp = temp_name(o->target);
      if (!o->tmp) return fail(o, e, "%s: %s", "out of memory");
      err = linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
    }
    if (err) {
      free(o->tmp);
      o->tmp = NULL;
      return fail(o, e, "%s: cannot name the temporary file beside it: %s", strerror(err));
    }
  }
#endif
  int rc = close(o->fd);
  o->fd = -1;
  if (rc != 0) return fail(o, e, "%s: close failed: %s", strerror(errno));
  if (rename(o->tmp, o->target) != 0)
    return fail(o, e, "%s: cannot rename the temporary file into place: %s", strerror(errno));
  free(o->tmp);
  o->tmp = NULL;
  /* The rename is durable once the folder is (best effort). */
  char *dir = folder_of(o->target);
  int dfd = dir ? open(dir, O_RDONLY | O_CLOEXEC) : -1;
  if (dfd >= 0) {
    if (fsync(dfd) != 0) { /* some file systems cannot; the data itself is synced */ }
    close(dfd);
  }
  free(dir);
  cr_out_abort(o);
  return 0;
}

void cr_out_abort(cr_out *o) {
  if (o->fd >= 0) close(o->fd);
  o->fd = -1;
  if (o->tmp) unlink(o->tmp);
  free(o->tmp);
  free(o->target);
  o->tmp = o->target = NULL;
}
