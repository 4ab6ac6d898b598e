-- The optimizers spelled with a SIMD ISA table's vector operations (the tiled family):
-- one inline function updates one vector of parameters and its state, and both paths of a
-- step call it, so they give the same bits whatever the compiler contracts:
--   NAME_step             vopt_begin, then vopt_tensor over every tensor;
--   NAME_train_step       vopt_begin once, the weights updated inside their weight-gradient
--                         tiles (gen/kernels/tiled.lua, matmul_xtg's a.opt) while dW is in
--                         registers, then vopt_tensor over the others (biases, conv weights).
-- The semantics are those of gen/optim/sgd.lua and adam.lua (PyTorch 1.13), each step
-- written with explicit fused multiply-adds: the scalar templates' `a + b * c` may or may
-- not be contracted by the compiler, these may not. vopt_begin reads the hyperparameters
-- from NAME_opt and does the per-step work once (SGD: the first-step test; Adam: t and the
-- bias corrections), as NAME_step always did; the tiles see only its vopt_k.
--
-- The NaN/Inf test of the gradients rides on the same calls: every gradient vector the
-- update reads is also ORed, times zero, into an accumulator (M.seen: g*0 is +-0 for a
-- finite g and NaN for NaN or +-Inf, and NaN stays NaN), a local of the kernel (vopt_at and
-- vopt_row<n> take it and return it), which vopt_flag tests once per kernel call and ORs
-- into *k->nonfinite. So NAME_train_step knows, without a second pass over the gradients,
-- whether one of them was not finite (NAME_nonfinite).
local M = {}

-- The update helpers the fused tiles call (vopt_update, vopt_at, vopt_row<n>) are forced
-- inline (GNU always_inline; gcc and clang): left to their heuristics, gcc -O2 split their
-- general case out of the tiles (vopt_row3.part.0: a call per tile row under momentum or
-- weight decay), and clang 14 -O2 kept vopt_row3 out of line in 784-256-256-10's avx512
-- weight-gradient tile (8 calls per tile, each spilling the tile's 24 accumulator vectors)
-- and in 784-50-10's scratch backward whenever that function had a second caller. Inlined or
-- not, the same intrinsics in the same order: the same bits.
local INLINE = "static inline __attribute__((always_inline)) "
local INLINE_UNUSED = "static inline __attribute__((always_inline, unused)) "

-- "nf | bits(g*0)": the accumulator nf after seeing the gradient vector g. Each lane of g*0 is
-- +-0 (finite g) or a NaN, whose exponent bits are all ones and mantissa not zero, so an OR of
-- them is +-0 or a NaN. (An OR, not nf + g*0: its one-cycle dependence keeps vopt_tensor's
-- loop at the speed of its loads, where a chain of adds or FMAs would set it.) Padding lanes
-- of a partial vector are sums of x*0: NaN only when an input of that tile row was not
-- finite, and then so is every real lane of the row (x*g is then NaN or +-Inf in each).
function M.seen(isa, nf, g) return isa.bor(nf, isa.mul(g, isa.zero())) end

-- The kernels' accumulator: declared once per kernel call, merged once at its end.
M.NF = "nf"
function M.nf_decl(isa) return isa.vtype .. " " .. M.NF .. " = " .. isa.zero() .. ";" end
function M.nf_merge(k) return "vopt_flag(" .. k .. ", " .. M.NF .. ");" end

-- The state tensors of NAME_opt each optimizer updates, in vopt_update's order.
local STATES = {sgd = {"buf"}, adam = {"m", "v"}, adamw = {"m", "v"}}
function M.states(kind) return STATES[kind] end

-- C test under which the state is read and written (SGD without momentum never touches
-- its buffer), or nil: always.
function M.state_test(kind) return kind == "sgd" and "k->momentum" or nil end

-- Whether gcc gets the weight-gradient kernels that update with this optimizer in their tiles
-- out of line (kernels/shared.lua's GCC_NOINLINE): Adam's eight vector constants, kept in
-- registers across the tile loops once the kernel is inlined into the train step, make gcc
-- spill accumulators in the tile's inner loop (784-50-10 B=64 AdamW, avx512: 103.6 -> 92.8 us
-- out of line, clang 92.3); SGD's four do not, and out of line each update reloads them
-- (784-256-10 B=64 momentum, avx512: 353 -> 361 us), so SGD's kernels stay where gcc puts them.
function M.gcc_apart(kind) return kind == "adam" or kind == "adamw" end

-- The common case of an optimizer as one test of the step's constants and the update it
-- reduces to (the same operations as vopt_update then), or nil: SGD without momentum and
-- weight decay, p + g·(-lr). {test = C condition, update(p, g) -> C expression}; k is the
-- C name of the vopt_k pointer.
function M.fast(kind, isa, k)
  if kind ~= "sgd" then return nil end
  return {test = k .. "->plain", update = function(p, g) return isa.fma(g, k .. "->nlr", p) end}
end

-- "nf = vopt_at(w, s0, g, nf, k);": the update of a whole vector of weights at w, its states
-- at the pointers `states`, gradient vector g (the fused tiles' common case, kept short).
function M.at(w, states, g, k)
  local st = #states > 0 and table.concat(states, ", ") .. ", " or ""
  return M.NF .. " = vopt_at(" .. w .. ", " .. st .. g .. ", " .. M.NF .. ", " .. k .. ");"
end

-- Widths (in vectors) of the vopt_row<n> helpers: one call updates n contiguous vectors of
-- one tile row under one test of the common case, where vopt_at tests it per vector (the
-- fused tiles of plain SGD ran 2.4 % more instructions than the unfused step for those
-- tests). Only the widths of full tiles at batches of at least max_rows, so the helpers
-- stay few; other rows call vopt_at per vector.
function M.row_widths(isa, kind)
  if not M.fast(kind, isa, "k") then return {} end
  local w = {}
  for n = 2, isa.vec_max do w[#w + 1] = n end
  return w
end

-- "nf = vopt_row2(w, s0, g0, g1, nf, k);": n = #gs vectors at w (states at `states`), or nil
-- when no helper has that width.
function M.row(isa, kind, w, states, gs, k)
  for _, n in ipairs(M.row_widths(isa, kind)) do
    if n == #gs then
      return M.NF .. " = vopt_row" .. n .. "(" .. w .. ", " .. (#states > 0 and table.concat(states, ", ") .. ", " or "")
        .. table.concat(gs, ", ") .. ", " .. M.NF .. ", " .. k .. ");"
    end
  end
  return nil
end

-- "vopt_update(p, g, &s0, k)": the call that returns the new parameter vector; `states` are
-- the names of the state vector variables, updated in place.
function M.call(p, g, states, k)
  local a = {p, g}
  for _, s in ipairs(states) do a[#a + 1] = "&" .. s end
  a[#a + 1] = k
  return "vopt_update(" .. table.concat(a, ", ") .. ")"
end

-- vopt_set computes the constants of the step s->t would take next, without taking it
-- (NAME_step_range, the slices of one step); vopt_begin also counts the step.
local function begin_helper(NAME, isa)
  return table.concat({
    "static void vopt_begin(vopt_k *k, " .. NAME .. "_opt *s) {",
    "  vopt_set(k, s);",
    "  s->t++;",
    "}",
    "",
    "/* The end of a kernel's NaN/Inf test: a lane of nf is NaN when a gradient it saw (ORed in",
    "   times zero) was NaN or +-Inf, else +-0; a NaN lane makes the sum of the lanes NaN. */",
    "static inline void vopt_flag(const vopt_k *k, " .. isa.vtype .. " nf) {",
    "  const float h = " .. isa.hsum("nf") .. ";",
    "  if (h != h) *k->nonfinite = 1;",
    "}",
  }, "\n")
end

local function sgd_helpers(isa, NAME)
  local vt, f = isa.vtype, isa
  return table.concat({
    "/* SGD's constants of one step (gen/optim/vector.lua), set once by vopt_begin. */",
    "typedef struct {",
    "  " .. vt .. " nlr, wd, mom, keep;          /* -lr, weight_decay, momentum, 1 - dampening */",
    "  int decay, momentum, first, nesterov;   /* weight_decay != 0, momentum != 0, t == 0 */",
    "  int plain;                              /* neither decay nor momentum */",
    "  int *nonfinite;                         /* set to 1 by vopt_flag (the caller's int) */",
    "} vopt_k;",
    "",
    "static void vopt_set(vopt_k *k, const " .. NAME .. "_opt *s) {",
    "  k->nlr = " .. f.broadcast("-s->lr") .. ";",
    "  k->wd = " .. f.broadcast("s->weight_decay") .. ";",
    "  k->mom = " .. f.broadcast("s->momentum") .. ";",
    "  k->keep = " .. f.broadcast("1.0f - s->dampening") .. ";",
    "  k->decay = s->weight_decay != 0.0f;",
    "  k->momentum = s->momentum != 0.0f;",
    "  k->first = s->t == 0;",
    "  k->nesterov = s->nesterov;",
    "  k->plain = !k->decay && !k->momentum;",
    "}",
    "",
    begin_helper(NAME, isa),
    "",
    "/* d = g + wd p; buf = d (first step) or momentum buf + (1 - dampening) d; d = buf, or",
    "   d + momentum buf (Nesterov); returns p - lr d. b is read and written only with momentum. */",
    INLINE .. vt .. " vopt_update(" .. vt .. " p, " .. vt .. " g, " .. vt .. " *b, const vopt_k *k) {",
    "  " .. vt .. " d = g;",
    "  if (k->decay) d = " .. f.fma("k->wd", "p", "d") .. ";",
    "  if (k->momentum) {",
    "    const " .. vt .. " v = k->first ? d : " .. f.fma("k->mom", "*b", f.mul("k->keep", "d")) .. ";",
    "    *b = v;",
    "    d = k->nesterov ? " .. f.fma("k->mom", "v", "d") .. " : v;",
    "  }",
    "  return " .. f.fma("d", "k->nlr", "p") .. ";",
    "}",
    "",
  }, "\n")
end

local function adam_helpers(isa, NAME, kind)
  local vt, f = isa.vtype, isa
  local decoupled = kind == "adamw"
  return table.concat({
    "/* Adam's constants of one step (gen/optim/vector.lua), set once by vopt_begin. */",
    "typedef struct {",
    "  " .. vt .. " b1, c1, b2, c2;      /* beta1, 1 - beta1, beta2, 1 - beta2 */",
    "  " .. vt .. " bc2, eps, nstep;     /* sqrt(1 - beta2^t), eps, -lr / (1 - beta1^t) */",
    "  " .. vt .. " wd, decay;           /* weight_decay; AdamW: 1 - lr weight_decay */",
    "  int l2;                           /* Adam: weight_decay != 0 */",
    "  int *nonfinite;                   /* set to 1 by vopt_flag (the caller's int) */",
    "} vopt_k;",
    "",
    "static void vopt_set(vopt_k *k, const " .. NAME .. "_opt *s) {",
    "  const long t = s->t + 1;   /* the step's number, counted from 1 */",
    "  k->b1 = " .. f.broadcast("s->beta1") .. ";",
    "  k->c1 = " .. f.broadcast("1.0f - s->beta1") .. ";",
    "  k->b2 = " .. f.broadcast("s->beta2") .. ";",
    "  k->c2 = " .. f.broadcast("1.0f - s->beta2") .. ";",
    "  k->bc2 = " .. f.broadcast("sqrtf(1.0f - adam_power(s->beta2, t))") .. ";",
    "  k->eps = " .. f.broadcast("s->eps") .. ";",
    "  k->nstep = " .. f.broadcast("-(s->lr / (1.0f - adam_power(s->beta1, t)))") .. ";",
    "  k->wd = " .. f.broadcast("s->weight_decay") .. ";",
    "  k->decay = " .. f.broadcast("1.0f - s->lr * s->weight_decay") .. ";",
    "  k->l2 = s->weight_decay != 0.0f;",
    "}",
    "",
    begin_helper(NAME, isa),
    "",
    decoupled and "/* p = p (1 - lr wd); m, v moving averages of g, g^2; returns p - step m / (sqrt(v) / bc2 + eps). */"
              or "/* g = g + wd p; m, v moving averages of g, g^2; returns p - step m / (sqrt(v) / bc2 + eps). */",
    INLINE .. vt .. " vopt_update(" .. vt .. " p, " .. vt .. " g, " .. vt .. " *m, " .. vt
      .. " *v, const vopt_k *k) {",
    decoupled and "  p = " .. f.mul("p", "k->decay") .. ";"
              or "  if (k->l2) g = " .. f.fma("k->wd", "p", "g") .. ";",
    "  *m = " .. f.fma("k->b1", "*m", f.mul("k->c1", "g")) .. ";",
    "  *v = " .. f.fma("k->b2", "*v", f.mul("k->c2", f.mul("g", "g"))) .. ";",
    "  const " .. vt .. " denom = " .. f.add(f.div(f.sqrt("*v"), "k->bc2"), "k->eps") .. ";",
    "  return " .. f.fma("k->nstep", f.div("*m", "denom"), "p") .. ";",
    "}",
    "",
  }, "\n")
end

-- vopt_tensor's loop for the optimizer's common case (M.fast), which leaves the rest to the
-- general code; "" when it has none.
local function fast_loop(isa, kind)
  local f = M.fast(kind, isa, "k")
  if not f then return "" end
  local W = isa.width
  return "  if (" .. f.test .. ")\n    for (; i + " .. W .. " <= count; i += " .. W .. ") {\n"
    .. "      const " .. isa.vtype .. " gi = " .. isa.load("g + i", 0) .. ";\n"
    .. "      " .. isa.store("p + i", 0, f.update(isa.load("p + i", 0), "gi")) .. "\n"
    .. "      nf = " .. M.seen(isa, "nf", "gi") .. ";\n"
    .. "    }"
end

-- vopt_at (and vopt_plain): one whole vector of weights in memory, updated from a gradient
-- vector (M.at, M.fast), for the fused tiles.
local function at_helpers(isa, kind)
  local vt = isa.vtype
  local states, test = STATES[kind], M.state_test(kind)
  local params, decl, stores, names = {}, {}, {}, {}
  for i, st in ipairs(states) do
    params[i] = "float *" .. st
    names[i] = "v" .. st
    local ld = isa.load(st, 0)
    decl[i] = names[i] .. " = " .. (test and test .. " ? " .. ld .. " : " .. isa.zero() or ld)
    stores[i] = "  " .. (test and "if (" .. test .. ") " or "") .. isa.store(st, 0, names[i])
  end
  local f = M.fast(kind, isa, "k")
  local ret = "return " .. M.seen(isa, "nf", "g") .. ";"
  local L = {
    "/* The fused tiles' update of one whole vector of weights at w from the gradients g; returns",
    "   the NaN/Inf accumulator nf having seen g (vopt_flag). */",
    INLINE_UNUSED .. vt .. " vopt_at(float *w, "
      .. (#params > 0 and table.concat(params, ", ") .. ", " or "") .. vt .. " g, " .. vt .. " nf, const vopt_k *k) {",
    f and "  if (" .. f.test .. ") { " .. isa.store("w", 0, f.update(isa.load("w", 0), "g")) .. " " .. ret .. " }" or "",
    "  " .. vt .. " " .. table.concat(decl, ", ") .. ";",
    "  " .. isa.store("w", 0, M.call(isa.load("w", 0), "g", names, "k")),
    table.concat(stores, "\n"),
    "  " .. ret,
    "}",
    "",
    "",
  }
  if not f then table.remove(L, 4) end   -- the empty line of the fast case
  table.remove(L)   -- (each helper below ends with the blank line)
  for _, n in ipairs(M.row_widths(isa, kind)) do
    local gp, fast, slow, acc = {}, {}, {}, "nf"
    for v = 0, n - 1 do
      local o = v * isa.width
      gp[#gp + 1] = vt .. " g" .. v
      fast[#fast + 1] = isa.store("w", o, f.update(isa.load("w", o), "g" .. v))
      acc = M.seen(isa, acc, "g" .. v)
      local sp = {}
      for i, st in ipairs(states) do sp[i] = o == 0 and st or st .. " + " .. o end
      slow[#slow + 1] = M.at(o == 0 and "w" or "w + " .. o, sp, "g" .. v, "k")
    end
    L[#L + 1] = "/* " .. n .. " contiguous vectors of one tile row: one test of the common case for all. */"
    L[#L + 1] = INLINE_UNUSED .. vt .. " vopt_row" .. n .. "(float *w, "
      .. (#params > 0 and table.concat(params, ", ") .. ", " or "") .. table.concat(gp, ", ") .. ", " .. vt .. " nf, const vopt_k *k) {"
    L[#L + 1] = "  if (" .. f.test .. ") { " .. table.concat(fast, " ") .. " return " .. acc .. "; }"
    L[#L + 1] = "  " .. table.concat(slow, " ")
    L[#L + 1] = "  return nf;"
    L[#L + 1] = "}"
    L[#L + 1] = ""
  end
  L[#L + 1] = ""
  return table.concat(L, "\n")
end

-- vopt_tensor: one tensor of `count` floats, whole vectors, then the last floats through
-- one vector's worth of stack buffers (the same operations on them). `attr` goes before
-- the definition (compact code keeps it out of line: one copy, not one per caller).
local function tensor_helper(isa, kind, attr)
  local vt, W = isa.vtype, isa.width
  local states, test = STATES[kind], M.state_test(kind)
  local sp, sv, sb = {}, {}, {}
  for i, s in ipairs(states) do
    sp[i] = "float *restrict " .. s
    sv[i] = "v" .. s
    sb[i] = "t" .. s
  end
  local function body(d, src)   -- src(name) -> base pointer expression for p, g, states
    local L = {}
    local ind = string.rep("  ", d)
    local decl = {}
    for i, s in ipairs(states) do
      local ld = isa.load(src(s), 0)
      decl[i] = sv[i] .. " = " .. (test and test .. " ? " .. ld .. " : " .. isa.zero() or ld)
    end
    L[#L + 1] = ind .. vt .. " " .. table.concat(decl, ", ") .. ";"
    L[#L + 1] = ind .. "const " .. vt .. " gi = " .. isa.load(src("g"), 0) .. ";"
    L[#L + 1] = ind .. isa.store(src("p"), 0, M.call(isa.load(src("p"), 0), "gi", sv, "k"))
    L[#L + 1] = ind .. "nf = " .. M.seen(isa, "nf", "gi") .. ";"
    for i, s in ipairs(states) do
      L[#L + 1] = ind .. (test and "if (" .. test .. ") " or "") .. isa.store(src(s), 0, sv[i])
    end
    return table.concat(L, "\n")
  end
  local tmp = {"tp", "tg"}
  for i = 1, #states do tmp[#tmp + 1] = sb[i] end
  local copy_in, copy_out = {"tp[l] = p[i + l]", "tg[l] = g[i + l]"}, {"p[i + l] = tp[l]"}
  for i, s in ipairs(states) do
    copy_in[#copy_in + 1] = sb[i] .. "[l] = " .. s .. "[i + l]"
    copy_out[#copy_out + 1] = s .. "[i + l] = " .. sb[i] .. "[l]"
  end
  local L = {
    "/* One tensor of count floats: whole vectors, then the rest through one vector of stack",
    "   buffers (zeros past the end), so every float sees vopt_update's operations (and the",
    "   NaN/Inf test: vopt_flag). */",
    attr .. "static void vopt_tensor(float *restrict p, " .. table.concat(sp, ", ") .. ", const float *restrict g, int count,",
    "                        const vopt_k *k) {",
    "  int i = 0;",
    "  " .. M.nf_decl(isa),
    fast_loop(isa, kind),
    "  for (; i + " .. W .. " <= count; i += " .. W .. ") {",
    body(2, function(s) return s .. " + i" end),
    "  }",
    "  if (i < count) {",
    "    _Alignas(64) float " .. table.concat(tmp, "[" .. W .. "], ") .. "[" .. W .. "];",
    "    for (int l = 0; l < " .. W .. "; l++) { " .. table.concat(tmp, "[l] = ") .. "[l] = 0.0f; }",
    "    for (int l = 0; l < count - i; l++) { " .. table.concat(copy_in, "; ") .. "; }",
    "    {",
    body(3, function(s) return s == "p" and "tp" or s == "g" and "tg" or "t" .. s end),
    "    }",
    "    for (int l = 0; l < count - i; l++) { " .. table.concat(copy_out, "; ") .. "; }",
    "  }",
    "  " .. M.nf_merge("k"),
    "}",
    "",
  }
  return table.concat(L, "\n")
end

-- The static C functions (after the ISA's helpers and adam_power), for a training build.
-- `attr`: text before vopt_tensor's definition ("" or gen/kernels/shared.lua's NOINLINE).
function M.helpers(isa, NAME, kind, attr)
  local h = kind == "sgd" and sgd_helpers(isa, NAME) or adam_helpers(isa, NAME, kind)
  return h .. at_helpers(isa, kind) .. tensor_helper(isa, kind, attr or "")
end

-- vopt_tensor's call for tensor t (cname, floats) with NAME_params p, NAME_opt s, grads g:
-- all of it, or from float `from` on for `count` floats (C expressions) when given.
function M.tensor_call(kind, t, p, s, g, from, count)
  local at = from and " + " .. from or ""
  local a = {p .. "->" .. t.cname .. at}
  for _, st in ipairs(STATES[kind]) do a[#a + 1] = s .. "->" .. st .. "." .. t.cname .. at end
  a[#a + 1] = g .. "->" .. t.cname .. at
  a[#a + 1] = count or tostring(t.floats)
  a[#a + 1] = "&k"
  return "vopt_tensor(" .. table.concat(a, ", ") .. ");"
end

-- NAME_step's body.
function M.step(tensors, kind)
  local L = {"  int nonfinite = 0;   /* (NAME_step does not report it) */", "  vopt_k k;", "  vopt_begin(&k, s);",
             "  k.nonfinite = &nonfinite;"}
  for _, t in ipairs(tensors) do L[#L + 1] = "  " .. M.tensor_call(kind, t, "p", "s", "g") end
  return table.concat(L, "\n") .. "\n"
end

-- "size_t a = ..., b = ...;": the part of lo..hi-1 in the tensor at float `offset`, relative
-- to its start, before the clamp to its size (also templates/optim_*.c.tpl's range).
function M.range_bounds(offset)
  if offset == 0 then return "size_t a = lo, b = hi;" end
  return "size_t a = lo > " .. offset .. " ? lo - " .. offset .. " : 0, b = hi > " .. offset .. " ? hi - "
    .. offset .. " : 0;"
end

-- NAME_step_range's body (lo, hi: floats of NAME_params): vopt_tensor on each tensor's part
-- of the range. The update is element-wise and the same vector operations run on a float
-- whether it falls in a whole vector or in the padded last one, so the parts together give
-- NAME_step's bits.
function M.step_range(tensors, kind)
  local L = {"  int nonfinite = 0;", "  vopt_k k;", "  vopt_set(&k, s);", "  k.nonfinite = &nonfinite;"}
  for _, t in ipairs(tensors) do
    L[#L + 1] = "  {"
    L[#L + 1] = "    " .. M.range_bounds(t.offset)
    L[#L + 1] = "    if (b > " .. t.floats .. ") b = " .. t.floats .. ";"
    L[#L + 1] = "    if (a < b) " .. M.tensor_call(kind, t, "p", "s", "g", "a", "(int)(b - a)")
    L[#L + 1] = "  }"
  end
  return table.concat(L, "\n") .. "\n"
end

return M
