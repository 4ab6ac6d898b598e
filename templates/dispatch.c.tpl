$(banner)
#if !(defined(__x86_64__) || defined(__i386__)) || !(defined(__GNUC__) || defined(__clang__))
#error "$(name).c dispatches between x86 ISAs with __builtin_cpu_supports: compile it with gcc or clang for x86"
#endif
#include "$(name).h"
@ for _, v in ipairs(variants) do
#include "$(v.name).h"
@ end

@ local families = false
@ for _, v in ipairs(variants) do families = families or v.prefer ~= nil end
@ if families then
#include <cpuid.h>
@ end
#include <stdatomic.h>
#include <string.h>

/* Every variant lays out the structs as $(name).h does (gen/plan.lua does not depend on the ISA),
   so the entry points below pass the caller's structs on as the variant's types. */
@ for _, v in ipairs(variants) do
@   for _, s in ipairs(inference and {"params", "work"} or {"params", "grads", "work", "opt"}) do
_Static_assert(sizeof($(name)_$(s)) == sizeof($(v.name)_$(s)), "$(v.name)_$(s) differs from $(name)_$(s)");
@   end
@   for _, t in ipairs(tensors) do
_Static_assert(offsetof($(v.name)_params, $(t.cname)) == offsetof($(name)_params, $(t.cname)), "offset of $(t.cname)");
@   end
@ end

@ include("tables.c.tpl")
@ if inference and weights then

@   include("weights.c.tpl")
@ end

/* The variants, best first; which one runs is chosen on the first call (or by $(name)_use_isa). */
static const char *const isa_names[$(#variants)] = {$(variant_list)};
static atomic_int chosen = -1;

/* Whether this CPU can run variant v (its ISA). */
static int supported(int v) {
  switch (v) {
@ for i, v in ipairs(variants) do
  case $(i - 1):
    return $(v.test);
@ end
  default:
    return 0;
  }
}
@ if families then

/* Whether variant v is meant for this CPU: a family variant (ISA:FAMILY) only on a CPU of that
   family (cpuid's vendor and display family and model, as chainrule cpu reads /proc/cpuinfo),
   the others on any. */
static int preferred(int v) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  int amd = 0, family = 0, model = 0;
  if (__get_cpuid(0, &a, &b, &c, &d)) amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    family = (int)((a >> 8) & 0xfu);
    model = (int)((a >> 4) & 0xfu);
    if (family == 6 || family == 15) model += (int)((a >> 12) & 0xf0u);
    if (family == 15) family += (int)((a >> 20) & 0xffu);
  }
  switch (v) {
@   for i, v in ipairs(variants) do
@     if v.prefer then
  case $(i - 1):
    return $(v.prefer);
@     end
@   end
  default:
    (void)amd, (void)family, (void)model;
    return 1;
  }
}
@ end

static int pick(void) {
  int v = atomic_load_explicit(&chosen, memory_order_relaxed);
  if (v < 0) {
    v = 0;
    while (!supported(v)$(families and " || !preferred(v)" or "")) v++;
    atomic_store_explicit(&chosen, v, memory_order_relaxed);
  }
  return v;
}

const char *$(name)_isa(void) { return isa_names[pick()]; }

int $(name)_use_isa(const char *isa) {
  for (int v = 0; v < $(#variants); v++) {
    if (strcmp(isa, isa_names[v]) == 0) {
      if (!supported(v)) return -1;
      atomic_store_explicit(&chosen, v, memory_order_relaxed);
      return 0;
    }
  }
  return -1;
}
@ -- each entry point: {return type, name, {{type, parameter}, ...}}; P/G/W/O/T stand for the struct types
@ local function ty(t, prefix)
@   return (t:gsub("%f[%w]([PGWOT])%f[^%w]", {P = prefix .. "_params", G = prefix .. "_grads", W = prefix .. "_work",
@                                            O = prefix .. "_opt", T = prefix .. "_target"}))
@ end
@ for _, e in ipairs(entries) do
@   local decl, args = {}, {}
@   for k, a in ipairs(e[3]) do
@     decl[k] = ty(a[1], name) .. (a[1]:sub(-1) == "*" and "" or " ") .. a[2]
@   end

$(e[1])$(e[1]:sub(-1) == "*" and "" or " ")$(name)_$(e[2])($(table.concat(decl, ", "))) {
  switch (pick()) {
@   for i, v in ipairs(variants) do
@     for k, a in ipairs(e[3]) do
@       args[k] = a[1]:find("[PGWOT]") and a[1]:find("%f[%w][PGWOT]%f[^%w]") and "(" .. ty(a[1], v.name) .. ")" .. a[2] or a[2]
@     end
  $(i == #variants and "default" or "case " .. (i - 1)):
    $(e[1] == "void" and "" or "return ")$(v.name)_$(e[2])($(table.concat(args, ", ")));$(e[1] == "void" and " return;" or "")
@   end
  }
}
@ end
@ if inference and predict and weights then

@ include("predict.c.tpl")
@ end
