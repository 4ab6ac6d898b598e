/* ulpcmp.c — compares the host's and the device's output of a tests/mcu program when their
 * libm differs (glibc vs newlib expf/logf), so bits may not match after many training steps.
 *
 *   ulpcmp MAX_ULPS HOST.txt DEVICE.txt
 *
 * Lines starting with "mcu " are skipped. A line holding a float ("LABEL 0xBITS ...") must have
 * the same LABEL on both sides; values are grouped by LABEL without a trailing "[k]" (one
 * group per tensor, one per loss line), and each value must be within MAX_ULPS units in the
 * last place of the group's largest magnitude on the host: |dev - host| <= MAX_ULPS *
 * ulp(max |host|). Prints the worst group in those units; other lines that differ are
 * printed as notes. Exit 0 within tolerance, 1 otherwise, 2 on bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 4096
#define LABEL 96

typedef struct {
  char label[LABEL], group[LABEL];
  int is_float;
  float v;
  char text[256];
} line;

static float from_bits(unsigned long u) {
  union {
    unsigned u;
    float f;
  } c = {(unsigned)u};
  return c.f;
}

static int read_lines(const char *path, line *out) {
  FILE *f = fopen(path, "r");
  if (!f) return fprintf(stderr, "ulpcmp: cannot read %s\n", path), -1;
  int n = 0;
  char buf[256];
  while (n < MAX_LINES && fgets(buf, sizeof buf, f)) {
    if (!strncmp(buf, "mcu ", 4)) continue;
    line *l = &out[n++];
    memset(l, 0, sizeof *l);
    snprintf(l->text, sizeof l->text, "%s", buf);
    char *hex = strstr(buf, " 0x");
    if (hex && hex - buf < LABEL) {
      l->is_float = 1;
      memcpy(l->label, buf, (size_t)(hex - buf));
      l->v = from_bits(strtoul(hex + 1, 0, 16));
      snprintf(l->group, sizeof l->group, "%s", l->label);
      char *br = strrchr(l->group, '[');
      if (br) *br = '\0';
    }
  }
  fclose(f);
  return n;
}

static line host[MAX_LINES], dev[MAX_LINES];

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: ulpcmp MAX_ULPS HOST.txt DEVICE.txt\n"), 2;
  const double max_ulps = atof(argv[1]);
  const int nh = read_lines(argv[2], host), nd = read_lines(argv[3], dev);
  if (nh < 0 || nd < 0) return 2;
  if (nh != nd) return printf("ulpcmp: %d lines on the host, %d on the device\n", nh, nd), 1;
  int bad = 0, floats = 0, equal = 0;
  double worst = 0;
  const char *worst_label = "";
  for (int i = 0; i < nh; i++) {
    if (host[i].is_float != dev[i].is_float || strcmp(host[i].label, dev[i].label))
      return printf("ulpcmp: line %d differs in kind or label:\n  %s  %s", i + 1, host[i].text,
                    dev[i].text),
             1;
    if (!host[i].is_float) {
      if (strcmp(host[i].text, dev[i].text))
        printf("note: line %d differs:\n  host   %s  device %s", i + 1, host[i].text, dev[i].text);
      continue;
    }
    float scale = 0;
    for (int j = 0; j < nh; j++)
      if (host[j].is_float && !strcmp(host[j].group, host[i].group))
        scale = fmaxf(scale, fabsf(host[j].v));
    const double ulp = scale > 0 ? (double)nextafterf(scale, INFINITY) - scale : 1e-45;
    const double d = fabs((double)dev[i].v - (double)host[i].v) / ulp;
    floats++;
    equal += dev[i].v == host[i].v;
    if (d > worst) worst = d, worst_label = host[i].label;
    if (d > max_ulps) {
      if (bad++ < 5)
        printf("ulpcmp: %s: host %.9g, device %.9g: %.1f ulp of the group's max |%.9g|\n",
               host[i].label, (double)host[i].v, (double)dev[i].v, d, (double)scale);
    }
  }
  printf("ulpcmp: %d floats, %d bit-identical, worst %.1f ulp of its group's max (%s), limit %g\n",
         floats, equal, worst, worst_label, max_ulps);
  return bad ? 1 : 0;
}
