-- CPU families: the defaults of gen/schedule.lua that one family of cores wants different from
-- the ISA's, each measured on that family (gen --cpu, chainrule tune --cpu).
--
-- gen/schedule.lua's tables give one default per ISA (M.XW_SPREAD[isa], M.PACK_SHARE[isa], ...),
-- mostly measured on AMD Zen 4. Where another family measured faster with another value, its
-- entry below names the table and the ISA's new value; schedule.pick(isa, TABLE) reads it
-- (a family that does not name the table, or generic, keeps the ISA's default). A tune file
-- still overrides both, per product.
--
-- The family is chosen by `--cpu NAME`: generic (the ISA defaults, for any machine), a family
-- below, or native (the family of the machine running chainrule, from /proc/cpuinfo; generic
-- when unknown). Without --cpu: native when the ISA is native (the code is for this machine),
-- else generic, so that `gen --isa avx512` gives the same bytes on every machine.
local errors = require "errors"

local M = {}

-- name -> {what = the cores, defaults = {TABLE = {isa = value}}, why = where measured,
-- cpuid = {vendor, family, {{first model, last model}, ...}}: the cores, as classify and
-- --dispatch's family variants (c_test) recognise them}
M.FAMILIES = {
  generic = {what = "any CPU", defaults = {}},
  zen3 = {
    what = "AMD Zen 3 and 3+ (family 25, models 0-15 and 32-95)",
    cpuid = {"AuthenticAMD", 25, {{0, 15}, {32, 95}}},
    -- avx2 xw tiling spread (gen/schedule.lua XW_SPREAD): the 784x256 B=32 train step 1.3 to
    -- 1.6 % faster (fastest of alternated runs, EPYC 7B13, 2026-11); a loss on Zen 4
    defaults = {XW_SPREAD = {avx2 = 8}},
  },
  zen4 = {
    what = "AMD Zen 4 (family 25, models 16-31, 96-127 and 160-175)",
    cpuid = {"AuthenticAMD", 25, {{16, 31}, {96, 127}, {160, 175}}},
    -- the ISA defaults were measured here, but for one a two-port Xeon needs: the sparse
    -- conv2d weight gradient from kernel 3 on avx512 (a 16-lane FMA takes two 8-lane
    -- slots here; gen/schedule.lua CONV_SPARSE_K): 16@14x14 -> 32 channels at kernel 3 +
    -- 2x2 pool, B=64, the train step 2298-2300 -> 2118-2130 us (EPYC family 25 model 17);
    -- likewise the sparse conv2d input gradient's frame adds weighed as one 16-lane FMA
    -- each (CONV_SPARSE_DX_ADD): 8@16x16 -> conv 16 -> conv 32 at kernel 3 + 2x2 pool, B=64,
    -- 4.78-4.98 -> 4.46-4.53 ms with it (weighed 2, that conv stays dense). chainrule tune
    -- from --cpu generic on that net (gcc, its whole-step pairs) chose both: the sparse dW
    -- 0.947x the step's time, then the sparse dx 0.956x
    -- The linear weight gradient behind a ReLU from g's nonzeros too (gen/schedule.lua
    -- XTG_SPARSE, off for the ISA: two-FMA-port cores lose with it): the train step, best of
    -- 300 rounds alternated with the tiles, 784-50-10 B=64 93.4 -> 75.6 us, 784-256-10 B=64
    -- 462 -> 402 us, 784-256-256-10 665 us at 99.4 % of dense peak in make bench (family 25
    -- model 17, 2026-12-07)
    defaults = {CONV_SPARSE_K = {avx512 = 3}, CONV_SPARSE_DX_ADD = {avx512 = 1}, XTG_SPARSE = {avx512 = true}},
  },
  zen5 = {
    what = "AMD Zen 5 (family 26, models 0-79)",
    cpuid = {"AuthenticAMD", 26, {{0, 79}}},
    -- avx512 xw tiling spread: 784-1024-10 B=64 forward 573 -> 551 us (1.047x), train step
    -- 1145 -> 1123 us (1.015x), median of 9 alternated fresh processes, EPYC family 26
    -- model 2, 2026-12-02; on Zen 4 the same spread made that forward 1.5x as long
    -- Huge layers' xw without x packed (XW_HUGE_PACK_X; then PANEL_BYTES panels and the
    -- spread), as chainrule tune chose for 784-2048-2048-10 there: its forward B=64 4974 ->
    -- 4284 us (1.16x), train step 13360 -> 12817 us (1.03x), 9 and 7 alternated processes;
    -- at B=256 (32 row tiles, no spread) the forward 1.06x too.
    -- Tried there, not taken (same method): L2_BYTES avx512 = 1 MB (Zen 5's own L2; avx512's
    -- default is a Xeon's 2 MB) packs 784x256 and treats 784x1024 as huge: 1.1-4.4 % slower
    -- on each of 784-256-256-10, 784-1024-10 (step and forward), 784-256-10 at B=8/32/256;
    -- avx2's spread (zen3's) on avx2 builds: within +-1 % (784x256 B=32, 784-1024-10)
    -- The linear weight gradient behind a ReLU from g's nonzeros (gen/schedule.lua
    -- XTG_SPARSE) only where at most 1/3 of g is nonzero (XTG_SPARSE_DENSITY; Zen 4's 3/5 lost
    -- here): the train step, the form against the tiles alternated in one process (2026-12-07),
    -- at density ~0.5 (fresh weights) 784-256-10 B=32 1.05-1.20x the tiles' time, 784-50-10
    -- B=64 0.96-1.06x; at ~0.28 (layer 0's bias lowered; PyTorch training the mnist_mlp spec on
    -- MNIST: 0.46 at the first batch, 0.38 over epoch 1, 0.28 over epoch 2) 784-50-10 B=64
    -- 0.82-0.86x, 784-256-10 B=64 0.85-0.88x, B=32 0.98-0.99x (medians; minima 0.88-0.95x).
    -- The step counts g's nonzeros before it chooses: denser steps run the tiles.
    -- Tried 2026-12-08, not kept: the form by default up to B=256 where its lists fit, and
    -- up to 2/5 of g nonzero. Two builds' steps alternated in one process (fresh weights, g's
    -- density set by layer 0's bias) said the form won at B=128 (784-128-10 0.92-0.94x the
    -- tiles' time at 0.30, 0.95x at 0.37) and at 0.37-0.41 up to B=128 (0.90-0.99x); but the
    -- trainer on the MNIST digits (784-256-10, the mnist_mlp recipe, 10 epochs, separate
    -- processes) ran B=128 at 605-664 us a step with it against 512-538 us with the tiles
    -- (--cpu generic, or zen5 with a tune file's sparse=no), and B=64 with the 2/5 limit
    -- 251-278 against 254-281 us with 1/3 (medians 258 and 255): no gain where it counts.
    defaults = {XW_SPREAD = {avx512 = 8}, XW_HUGE_PACK_X = {avx512 = false}, XTG_SPARSE = {avx512 = true},
                XTG_SPARSE_DENSITY = {avx512 = {1, 3}}},
  },
}
M.NAMES = {"generic", "zen3", "zen4", "zen5", "native"}

-- The family of a CPU by its /proc/cpuinfo words (vendor_id, decimal cpu family and model),
-- or "generic". Pure, for the tests.
function M.classify(vendor, family, model)
  for _, name in ipairs(M.NAMES) do
    local id = M.FAMILIES[name] and M.FAMILIES[name].cpuid
    if id and vendor == id[1] and family == id[2] and model then
      for _, r in ipairs(id[3]) do
        if model >= r[1] and model <= r[2] then return name end
      end
    end
  end
  return "generic"
end

-- The C test that a CPU is of family `name`, on the int variables `family` and `model` (cpuid's
-- display family and model) and the int `amd` (vendor AuthenticAMD): classify's rule in C,
-- for --dispatch's family variants (templates/dispatch.c.tpl computes the three).
function M.c_test(name, amd, family, model)
  local id = M.FAMILIES[name].cpuid
  local ranges = {}
  for k, r in ipairs(id[3]) do
    ranges[k] = string.format("(%s >= %d && %s <= %d)", model, r[1], model, r[2])
  end
  assert(id[1] == "AuthenticAMD", "c_test knows the AMD vendor test only")
  return string.format("%s && %s == %d && (%s)", amd, family, id[2], table.concat(ranges, " || "))
end

-- Whether family `name`'s defaults change anything for the ISA isa_name (else its code for that
-- ISA is the generic code: --dispatch refuses such a variant).
function M.changes(name, isa_name)
  for _, per_isa in pairs(M.FAMILIES[name].defaults) do
    if per_isa[isa_name] ~= nil then return true end
  end
  return false
end

-- The family of the machine running chainrule (the first processor of /proc/cpuinfo), or
-- "generic" where that file says nothing known.
function M.host()
  local info = require("target").cpuinfo()
  local function field(name)
    return info:match("\n" .. name .. "%s*:%s*([^\n]-)%s*\n") or info:match("^" .. name .. "%s*:%s*([^\n]-)%s*\n")
  end
  return M.classify(field("vendor_id"), tonumber(field("cpu family") or ""), tonumber(field("model") or ""))
end

-- resolve(name, where) -> the family table, with .name; `where` prefixes the user error.
function M.resolve(name, where)
  local known = false
  for _, n in ipairs(M.NAMES) do known = known or n == name end
  if not known then
    errors.user(where .. ": unknown cpu '" .. tostring(name) .. "'" .. errors.suggest(name, M.NAMES)
      .. " (one of " .. table.concat(M.NAMES, ", ") .. ")")
  end
  if name == "native" then name = M.host() end
  local f = {name = name}
  for k, v in pairs(M.FAMILIES[name]) do f[k] = v end
  return f
end

-- One line: the family's name, its cores and the defaults it changes (chainrule cpu).
function M.describe(f)
  local keys = {}
  for table_name, per_isa in pairs(f.defaults) do
    for isa, v in pairs(per_isa) do
      -- (a list value, as XTG_SPARSE_DENSITY's fraction: {1, 3})
      local shown = type(v) == "table" and "{" .. table.concat(v, ", ") .. "}" or tostring(v)
      keys[#keys + 1] = table_name .. "[" .. isa .. "] = " .. shown
    end
  end
  table.sort(keys)
  return f.name .. ": " .. f.what .. "; " .. (#keys > 0 and "defaults changed: " .. table.concat(keys, ", ")
    or "the ISA defaults")
end

-- The ISA table isa specialised for family f: reads as isa, with .cpu = f (schedule.pick).
function M.specialise(isa, f)
  return setmetatable({cpu = f}, {__index = isa})
end

return M
