/* train_sched.c — learning-rate schedules with PyTorch's semantics (torch.optim.lr_scheduler,
 * 1.13): StepLR and CosineAnnealingLR stepped once per epoch, OneCycleLR stepped once per
 * batch (with its momentum cycle). A schedule is written "KIND" or "KIND:key=value,...";
 * the spec's `schedule = onecycle{max_lr = 0.1}` reaches the trainer in the same form
 * (cr_net.schedule), and --schedule overrides it. Every value is a pure function of the
 * epoch and step counters, which a checkpoint holds, so a resumed run continues the
 * schedule exactly. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

/* The keys of each kind: what values they take and the field of tr_sched they set. */
typedef enum { V_POS, V_NONNEG, V_FRAC, V_UNIT, V_EPOCHS, V_BOOL, V_ANNEAL } vkind;
typedef struct {
  const char *key;
  vkind v;
  size_t off;
} keydef;

/* what each value kind accepts, for the messages */
static const char *const vwhat[] = {"a number > 0", "a number >= 0", "a number in (0, 1)",
                                    "a number in [0, 1]", "an integer from 1 to 1000000",
                                    "true or false", "cos or linear"};

#define KEY(name, v, field) {name, v, offsetof(tr_sched, field)}
static const keydef step_keys[] = {KEY("step_size", V_EPOCHS, step_size), KEY("gamma", V_POS, gamma)};
static const keydef cos_keys[] = {KEY("t_max", V_EPOCHS, t_max), KEY("eta_min", V_NONNEG, eta_min)};
static const keydef one_keys[] = {
    KEY("max_lr", V_POS, max_lr),
    KEY("epochs", V_EPOCHS, epochs),
    KEY("pct_start", V_FRAC, pct_start),
    KEY("anneal", V_ANNEAL, anneal_linear),
    KEY("cycle_momentum", V_BOOL, cycle_momentum),
    KEY("base_momentum", V_UNIT, base_momentum),
    KEY("max_momentum", V_UNIT, max_momentum),
    KEY("div_factor", V_POS, div_factor),
    KEY("final_div_factor", V_POS, final_div_factor),
    KEY("three_phase", V_BOOL, three_phase),
};

static const struct {
  const char *name;
  int kind;
  const keydef *keys;
  int nkeys;
} kinds[] = {
    {"constant", TR_SCHED_CONSTANT, NULL, 0},
    {"step", TR_SCHED_STEP, step_keys, (int)(sizeof step_keys / sizeof step_keys[0])},
    {"cosine", TR_SCHED_COSINE, cos_keys, (int)(sizeof cos_keys / sizeof cos_keys[0])},
    {"onecycle", TR_SCHED_ONECYCLE, one_keys, (int)(sizeof one_keys / sizeof one_keys[0])},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static void defaults(tr_sched *s, int kind) {
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->step_size = NAN, s->gamma = 0.1;
  s->t_max = NAN, s->eta_min = 0;
  s->max_lr = NAN, s->epochs = NAN, s->pct_start = 0.3, s->anneal_linear = 0;
  s->cycle_momentum = 1, s->base_momentum = 0.85, s->max_momentum = 0.95;
  s->div_factor = 25, s->final_div_factor = 1e4, s->three_phase = 0;
}

/* One "key=value" of kind k into s. 0, or -1 with the problem in err. */
static int set_key(tr_sched *s, int k, const char *key, size_t klen, const char *val, char *err,
                   size_t errlen) {
  const keydef *d = NULL;
  for (int i = 0; i < kinds[k].nkeys; i++)
    if (strlen(kinds[k].keys[i].key) == klen && !strncmp(kinds[k].keys[i].key, key, klen))
      d = &kinds[k].keys[i];
  if (!d) {
    char keys[256] = "";
    for (int i = 0; i < kinds[k].nkeys; i++)
      snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", i ? ", " : "",
               kinds[k].keys[i].key);
    snprintf(err, errlen, "%s has no key '%.*s' (keys: %s)", kinds[k].name, (int)klen, key,
             kinds[k].nkeys ? keys : "none");
    return -1;
  }
  double *dst = (double *)((char *)s + d->off), x = NAN;
  if (d->v == V_ANNEAL) {
    x = !strcmp(val, "cos") ? 0 : !strcmp(val, "linear") ? 1 : NAN;
  } else if (d->v == V_BOOL) {
    x = !strcmp(val, "true") ? 1 : !strcmp(val, "false") ? 0 : NAN;
  } else {
    char *end = NULL;
    errno = 0;
    double y = strtod(val, &end);
    int ok = end != val && !*end && !errno && isfinite(y);
    switch (d->v) {
      case V_POS: ok = ok && y > 0; break;
      case V_NONNEG: ok = ok && y >= 0; break;
      case V_FRAC: ok = ok && y > 0 && y < 1; break;
      case V_UNIT: ok = ok && y >= 0 && y <= 1; break;
      default: ok = ok && y >= 1 && y <= TR_MAX_EPOCHS && y == floor(y); break;
    }
    if (ok) x = y;
  }
  if (isnan(x)) {
    snprintf(err, errlen, "%s %s must be %s, got '%s'", kinds[k].name, d->key, vwhat[d->v], val);
    return -1;
  }
  *dst = x;
  return 0;
}

int tr_sched_parse(tr_sched *s, const char *text, char *err, size_t errlen) {
  size_t nlen = strcspn(text, ":");
  int k = -1;
  for (size_t i = 0; i < NKINDS; i++)
    if (strlen(kinds[i].name) == nlen && !strncmp(kinds[i].name, text, nlen)) k = (int)i;
  if (k < 0) {
    snprintf(err, errlen, "unknown schedule '%.*s' (one of constant, step, cosine, onecycle)",
             (int)(nlen > 40 ? 40 : nlen), text);
    return -1;
  }
  defaults(s, kinds[k].kind);
  const char *p = text + nlen;
  if (*p == ':') {
    p++;
    if (!*p) {
      snprintf(err, errlen, "%s: nothing after ':' (write %s:key=value,...)", kinds[k].name,
               kinds[k].name);
      return -1;
    }
    while (*p) {
      size_t len = strcspn(p, ",");
      const char *eq = memchr(p, '=', len);
      if (!eq || eq == p || eq + 1 == p + len) {
        snprintf(err, errlen, "%s: expected key=value, got '%.*s'", kinds[k].name,
                 (int)(len > 40 ? 40 : len), p);
        return -1;
      }
      char val[64];
      size_t vlen = (size_t)(p + len - eq - 1);
      if (vlen >= sizeof val) {
        snprintf(err, errlen, "%s: value of '%.*s' is too long", kinds[k].name,
                 (int)(eq - p > 40 ? 40 : eq - p), p);
        return -1;
      }
      memcpy(val, eq + 1, vlen);
      val[vlen] = 0;
      if (set_key(s, k, p, (size_t)(eq - p), val, err, errlen)) return -1;
      p += len;
      if (*p == ',') {
        p++;
        if (!*p) {
          snprintf(err, errlen, "%s: trailing ','", kinds[k].name);
          return -1;
        }
      }
    }
  }
  if (s->kind == TR_SCHED_STEP && isnan(s->step_size)) {
    snprintf(err, errlen, "step needs step_size (epochs between decays), e.g. step:step_size=5");
    return -1;
  }
  if (s->kind == TR_SCHED_ONECYCLE && s->base_momentum > s->max_momentum) {
    snprintf(err, errlen, "onecycle base_momentum %g is larger than max_momentum %g",
             s->base_momentum, s->max_momentum);
    return -1;
  }
  return 0;
}

/* OneCycleLR's annealing from a to b at fraction pct of a phase. */
static double anneal(const tr_sched *s, double a, double b, double pct) {
  if (s->anneal_linear) return (b - a) * pct + a;
  return b + (a - b) / 2.0 * (cos(PI * pct) + 1.0);
}

/* torch's OneCycleLR phases {end step, lr from, lr to, momentum from, to}; returns their
 * count and the total step count in *total. */
static int onecycle_phases(const tr_sched *s, double base_lr, long epochs, long steps_per_epoch,
                           double ph[3][5], double *total) {
  double max_lr = isnan(s->max_lr) ? base_lr : s->max_lr;
  double t = (isnan(s->epochs) ? (double)epochs : s->epochs) * (double)steps_per_epoch;
  double initial = max_lr / s->div_factor, min_lr = initial / s->final_div_factor;
  double hi = s->max_momentum, lo = s->base_momentum;
  *total = t;
  if (s->three_phase) {
    double p[3][5] = {{s->pct_start * t - 1, initial, max_lr, hi, lo},
                      {2 * s->pct_start * t - 2, max_lr, initial, lo, hi},
                      {t - 1, initial, min_lr, hi, hi}};
    memcpy(ph, p, sizeof p);
    return 3;
  }
  double p[2][5] = {{s->pct_start * t - 1, initial, max_lr, hi, lo},
                    {t - 1, max_lr, min_lr, lo, hi}};
  memcpy(ph, p, sizeof p);
  return 2;
}

int tr_sched_check(const tr_sched *s, long epochs, long steps_per_epoch, char *err,
                   size_t errlen) {
  if (s->kind != TR_SCHED_ONECYCLE) return 0;
  double ph[3][5], total, start = 0;
  int nph = onecycle_phases(s, 1.0, epochs, steps_per_epoch, ph, &total);
  for (int i = 0; i < nph; i++) {
    if (ph[i][0] == start) {
      snprintf(err, errlen, "onecycle: phase %d of %.0f steps has length 0 (pct_start %g of "
               "%.0f steps; torch divides by zero here): change pct_start or the epochs",
               i + 1, total, s->pct_start, total);
      return -1;
    }
    start = ph[i][0];
  }
  if (epochs > (isnan(s->epochs) ? epochs : (long)s->epochs)) {
    snprintf(err, errlen, "onecycle epochs=%.0f is fewer than the %ld epochs to train (the "
             "schedule would end before training does)", s->epochs, epochs);
    return -1;
  }
  return 0;
}

int tr_sched_at(const tr_sched *s, double base_lr, long epoch, long step, long epochs,
                long steps_per_epoch, double *lr, double *momentum) {
  *lr = base_lr;
  *momentum = NAN;
  switch (s->kind) {
    case TR_SCHED_STEP:
      *lr = base_lr * pow(s->gamma, (double)(epoch / (long)s->step_size));
      return 0;
    case TR_SCHED_COSINE: {
      double tmax = isnan(s->t_max) ? (double)epochs : s->t_max;
      *lr = s->eta_min + (base_lr - s->eta_min) * (1.0 + cos(PI * (double)epoch / tmax)) / 2.0;
      return 0;
    }
    case TR_SCHED_ONECYCLE: {
      double ph[3][5], total;
      int nph = onecycle_phases(s, base_lr, epochs, steps_per_epoch, ph, &total);
      if ((double)step >= total) return -1;
      double start = 0;
      for (int i = 0; i < nph; i++) {
        if ((double)step <= ph[i][0] || i == nph - 1) {
          double pct = ((double)step - start) / (ph[i][0] - start);
          *lr = anneal(s, ph[i][1], ph[i][2], pct);
          if (s->cycle_momentum) *momentum = anneal(s, ph[i][3], ph[i][4], pct);
          break;
        }
        start = ph[i][0];
      }
      return 0;
    }
    default:
      return 0;
  }
}
