/* A plain main for a fuzz target: feeds every file named on the command line (or found
 * in a directory named there) to LLVMFuzzerTestOneInput once, so `make test` replays the
 * committed corpus and crashers under ASan + UBSan without libFuzzer. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "%s: out of memory\n", path);
    return -1;
  }
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  size_t files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (replay_file(argv[i])) return 1;
      files++;
      continue;
    }
    DIR *dir = opendir(argv[i]);
    if (!dir) return 1;
    char **names = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
      if (de->d_name[0] == '.') continue;
      char **nn = realloc(names, (count + 1) * sizeof *names);
      if (!nn) return 1;
      names = nn;
      size_t len = strlen(argv[i]) + strlen(de->d_name) + 2;
      names[count] = malloc(len);
      if (!names[count]) return 1;
      snprintf(names[count], len, "%s/%s", argv[i], de->d_name);
      count++;
    }
    closedir(dir);
    qsort(names, count, sizeof *names, compare_names);
    for (size_t k = 0; k < count; k++) {
      if (replay_file(names[k])) return 1;
      free(names[k]);
      files++;
    }
    free(names);
  }
  printf("%s: %zu inputs replayed, no crash\n", argv[0], files);
  return 0;
}
