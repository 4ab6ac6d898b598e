-- Unit tests of the generator's Lua modules, run inside the binary:
--   build/chainrule selftest tests/gen/unit.lua
-- Prints "unit: N checks passed" and returns 0, or raises with the first failure.
local emit = require "emit"
local template = require "template"
local errors = require "errors"
local plan = require "plan"

local checks = 0
-- driver.generate's dispatch list as parse_gen makes it from --dispatch avx512,avx2,scalar
local DISPATCH3 = {{word = "avx512", isa = "avx512"}, {word = "avx2", isa = "avx2"}, {word = "scalar", isa = "scalar"}}
local function check(ok, what, ...)
  checks = checks + 1
  if not ok then error(string.format(what, ...), 2) end
end

-- emit.float: every literal reads back to the same fp32 bits --------------------------
local function bits(x) return string.pack("<f", x) end
local function roundtrip(x)
  local lit = emit.float(x)
  check(lit:match("^%-?[%d.]+e?[-+]?%d*f$") ~= nil, "float literal %q for %.17g is not a C float literal", lit, x)
  local back = tonumber(lit:sub(1, -2))
  check(bits(back) == bits(x), "float literal %s does not round-trip %.17g", lit, x)
end
for _, x in ipairs({0.1, -0.5, 1, 1e-8, 0.001, 0.9, 0.999, 3.4028234663852886e38, 1.401298464324817e-45,
                    1.1754943508222875e-38, 2^24 + 2, 1/3, -1e-30, 123456.789}) do
  roundtrip(emit.to_f32(x))
end
-- a few thousand fp32 values from a fixed bit pattern walk (finite ones only)
local u = 12345
for _ = 1, 5000 do
  u = (u * 1103515245 + 12345) % 2^32
  local f = string.unpack("<f", string.pack("<I4", u))
  if f == f and f ~= math.huge and f ~= -math.huge then roundtrip(f) end
end
check(emit.float(0.5) == "0.5f", "0.5 -> %s", emit.float(0.5))
check(emit.float(2) == "2.0f", "2 -> %s", emit.float(2))
check(emit.float(0.1) == "0.1f", "0.1 -> %s (shortest round trip)", emit.float(0.1))
check(emit.float(-0.0) == "-0.0f", "-0 -> %s", emit.float(-0.0))
check(not pcall(emit.float, 0 / 0), "nan must not become a literal")
check(not pcall(emit.float, 1e39), "1e39 overflows fp32 and must not become a literal")

-- template engine --------------------------------------------------------------------
local function render(text, vars) return template.compile("t.tpl", text)(vars or {}) end
check(render("a $(x) b\n", {x = 3}) == "a 3 b\n", "splice")
check(render("cost: $$5 $(\"(\" .. y .. \")\")\n", {y = "z"}) == "cost: $5 (z)\n", "$$ and parens in strings: %q",
      render("cost: $$5 $(\"(\" .. y .. \")\")\n", {y = "z"}))
check(render("@ for i = 1, 3 do\n$(i),\n@ end\n") == "1,\n2,\n3,\n", "@ lines are Lua")
check(render("  @ if false then\nno\n  @ end\nyes\n") == "yes\n", "indented @ lines are Lua")
local function err_of(text, vars)
  local ok, e = pcall(function() return render(text, vars) end)
  check(not ok, "template %q should fail", text)
  return tostring(e)
end
local e = err_of("line 1\nline 2\n$(undefined_name)\n")
check(e:find("t.tpl:3:", 1, true) and e:find("undefined_name", 1, true), "runtime error at line 3: %s", e)
e = err_of("a\n@ for i = 1, 2\nb\n@ end\n")
check(e:find("^t.tpl:%d+:") ~= nil, "compile error names the template: %s", e)
e = err_of("a\nb\nc\n@ local x = nil + 1\n")
check(e:find("t.tpl:4:", 1, true), "arithmetic error at line 4: %s", e)
e = err_of("ok\n$(x\n")
check(e:find("t.tpl:2:", 1, true) and e:find("unclosed", 1, true), "unclosed splice at line 2: %s", e)

-- errors.suggest ----------------------------------------------------------------------
check(errors.suggest("btach", {"input", "batch"}) == " (did you mean 'batch'?)", "suggest batch")
check(errors.suggest("zzzzzz", {"input", "batch"}) == "", "no suggestion for a far word")

-- plan: 64-byte alignment of every tensor ----------------------------------------------
check(plan.pad(1) == 16 and plan.pad(16) == 16 and plan.pad(50) == 64 and plan.pad(0) == 0, "pad to 16 floats")

-- tile planners (gen/kernels/tiled.lua) ------------------------------------------------
local tiled = require "kernels.tiled"
local ISAS = {require "isa.avx512", require "isa.avx2", (require "isa.neon")}   -- () keeps one value

-- vectors(count, width): consecutive, whole vectors then one partial, covering count floats
for _, case in ipairs({{50, 16}, {16, 16}, {1, 8}, {10, 4}, {0, 8}}) do
  local count, width = case[1], case[2]
  local v, next_off = tiled.vectors(count, width), 0
  for _, vec in ipairs(v) do
    check(vec.off == next_off and vec.lanes >= 1 and vec.lanes <= width, "vectors(%d, %d): bad vector at %d", count, width, vec.off)
    next_off = next_off + vec.lanes
  end
  check(next_off == count and #v == (count + width - 1) // width, "vectors(%d, %d) covers %d floats in %d vectors",
        count, width, next_off, #v)
end
check(tiled.vectors(50, 16)[4].lanes == 2, "vectors(50, 16): the last one has 2 lanes")

-- blocks(vecs, most): the vectors in order, in blocks of at most `most`, sizes differing by <= 1
-- up to four blocks, past that whole blocks of `most` and one of the rest
for n = 1, 30 do
  for most = 1, 6 do
    local vecs = tiled.vectors(n * 4, 4)
    local blks, seen, lo, hi = tiled.blocks(vecs, most), 0, math.huge, 0
    for _, blk in ipairs(blks) do
      lo, hi = math.min(lo, #blk), math.max(hi, #blk)
      for _, vec in ipairs(blk) do
        seen = seen + 1
        check(vec == vecs[seen], "blocks(%d, %d): vector %d out of order", n, most, seen)
      end
    end
    local shape_ok = #blks <= 4 and hi - lo <= 1
    if #blks > 4 then
      shape_ok = true
      for b = 1, #blks - 1 do shape_ok = shape_ok and #blks[b] == most end
    end
    check(seen == n and hi <= most and shape_ok and #blks == (n + most - 1) // most,
          "blocks(%d vectors, most %d): %d blocks of %d..%d", n, most, #blks, lo, hi)
    -- column_groups: runs of one block shape, covering the blocks in order, at most 3
    local groups, col = tiled.column_groups(blks, 4), 0
    for _, g in ipairs(groups) do
      check(g.j0 == col and g.width == #g.vecs * 4, "column_groups(%d, %d): group at %d", n, most, g.j0)
      col = col + g.count * g.width
    end
    check(col == n * 4 and #groups <= 3, "column_groups(%d, %d): %d columns in %d groups", n, most, col, #groups)
  end
end

-- column_plan: the vectors cover the columns before the transposed tail, whose width is
-- at most a quarter vector and taken only when the batch fills whole row tiles
for _, isa in ipairs(ISAS) do
  for N = 1, 130 do
    for _, batch in ipairs({1, 3, isa.max_rows, 64}) do
      local plan = tiled.column_plan(isa, N, batch, 784)
      local covered = 0
      for _, blk in ipairs(plan.blocks) do
        for _, vec in ipairs(blk) do
          check(vec.off == covered, "%s column_plan(%d, %d): gap at %d", isa.name, N, batch, covered)
          covered = covered + vec.lanes
        end
      end
      check(covered + plan.tail == N, "%s column_plan(%d, %d): %d columns + tail %d", isa.name, N, batch, covered, plan.tail)
      if plan.tail > 0 then
        check(plan.tail0 == covered and plan.tail * 4 <= isa.width and batch >= isa.max_rows,
              "%s column_plan(%d, %d): tail %d at %s", isa.name, N, batch, plan.tail, tostring(plan.tail0))
      end
    end
  end
end
local p50 = tiled.column_plan(require "isa.avx512", 50, 64, 784)
check(p50.tail == 2 and p50.tail0 == 48 and #p50.vecs == 3, "avx512 50 columns: 3 vectors + 2 as dot products")
check(tiled.column_plan(require "isa.avx512", 50, 1, 784).tail == 0, "batch 1: no transposed tail")

-- schedule.block: one block shape when a divisor fits, whole blocks of `most` otherwise
local schedule = require "schedule"
check(schedule.block(700, 1024, 1) == 700, "block: all of it when it fits")
check(schedule.block(1024, 512, 16) == 512 and schedule.block(784, 170, 16) == 112, "block: a divisor, multiple of unit")
check(schedule.block(1023, 160, 16) == 93, "block: a divisor, not a multiple of the unit")
check(schedule.block(1031, 512, 8) == 512, "block: a prime leaves whole blocks and a rest")
check(schedule.block(344, 64, 8, true) == 64 and schedule.block(1000, 512, 8, true) == 512
      and schedule.block(344, 7, 8, true) == 8, "block whole: only multiples of the unit (not 43 or 500)")
for total = 1, 300 do
  for _, most in ipairs({1, 7, 16, 64}) do
    local c = schedule.block(total, most, 4)
    check(c >= 1 and c <= math.max(most, 1) and (c == most or total % c == 0 or c == total),
          "block(%d, %d) = %d", total, most, c)
  end
end
-- tiling: pack by size or by a 4 KB row stride, never at batch 1; the panel bounded;
-- overrides win; the transposed block of W bounded
local avx2 = require "isa.avx2"
local t = schedule.tiling(avx2, "xw", {K = 784, N = 1024, batch = 64})
check(t.pack and t.order == "columns" and t.kc * t.vecs * avx2.width * 4 <= schedule.PANEL_BYTES,
      "tiling xw 784x1024: packed, panel within PANEL_BYTES")
check(not schedule.tiling(avx2, "xw", {K = 784, N = 1024, batch = 1}).pack, "tiling xw: no packing at batch 1")
check(not schedule.tiling(avx2, "xw", {K = 20, N = 10, batch = 64}).pack, "tiling xw: a small layer is not packed")
check(schedule.tiling(avx2, "xw", {K = 784, N = 1024, batch = 64}, {pack = false, order = "rows"}).pack == false,
      "tiling: an override replaces the default")
-- small batches: the tile width that covers the batch (B = 8 on avx2: two 4-row x 3-vector
-- tiles, not 6 + 2 rows of 2 vectors), and no packed panel for fewer than 4 row tiles (big W
-- then k-blocks outer, slabs of whole rows within PANEL_BYTES); B = 64 keeps vec_max and packs
local b8 = schedule.tiling(avx2, "xw", {K = 784, N = 256, batch = 8})
check(b8.vecs == 3 and not b8.pack and b8.order == "depth" and b8.kc == 28, "tiling xw 784x256 B=8: vecs %d pack %s order %s kc %d",
      b8.vecs, tostring(b8.pack), b8.order, b8.kc)
check(schedule.tiling(avx2, "xw", {K = 784, N = 4000, batch = 4}).kc == 16, "tiling xw 784x4000 B=4: depth slabs of 16 rows")
local b64 = schedule.tiling(avx2, "xw", {K = 784, N = 256, batch = 64})
check(b64.vecs == avx2.vec_max and b64.pack, "tiling xw 784x256 B=64: vec_max, packed")
check(schedule.xw_cost(avx2, 256, 8, 3) < 0.9 * schedule.xw_cost(avx2, 256, 8, 2), "xw_cost: B=8 favours 4x3 tiles")
check(schedule.tiling(avx2, "xw", {K = 784, N = 50, batch = 64}).vecs == 2, "tiling xw 784x50 B=64: vec_max")
-- spread (the next panel prefetched from the row tiles; off by default, XW_SPREAD, slower
-- on Zen 4): where W passes the L2, at most SPREAD_TILES row tiles, the panel filled by a
-- tile; not at B=64 (11 tiles), not for a W within the L2, not without fill=tile; a tune
-- key: given, it stays, tune's candidates try it where it fits; a spread where it cannot
-- run, or not a power of two, refused
local avx512 = require "isa.avx512"
local s32, s1024 = {K = 784, N = 256, batch = 32}, {K = 784, N = 1024, batch = 64}
local fits = schedule.spread_fits
check(fits(avx2, s32, schedule.tiling(avx2, "xw", s32)), "spread fits xw 784x256 B=32 (avx2)")
check(not fits(avx2, {K = 784, N = 256, batch = 64}, b64), "spread: not at 784x256 B=64 (11 row tiles)")
check(not fits(avx2, {K = 256, N = 256, batch = 32}, schedule.tiling(avx2, "xw", {K = 256, N = 256, batch = 32})), "spread: not for a W within the L2")
check(not fits(avx2, s32, schedule.tiling(avx2, "xw", s32, {fill = "loop"})), "spread: not with fill=loop")
check(not fits(avx512, s32, schedule.tiling(avx512, "xw", s32)), "spread: not avx512 784x256 (W within its L2)")
check(fits(avx512, s1024, schedule.tiling(avx512, "xw", s1024)), "spread fits avx512 784x1024 B=64 (8 row tiles, W past the L2)")
-- the weight gradient from g's nonzeros (XTG_SPARSE): off for every ISA (two-FMA-port cores
-- lose with it at ~1/2 nonzero); zen5 below 1/3; with zen4's defaults behind a ReLU on
-- avx512 when the lists
-- fit; not without the ReLU, not on avx2, not for K off the vector width or lists past
-- XTG_SPARSE_BYTES; a tune file may ask for it on any layer where it fits, and not elsewhere
local r50 = {K = 784, N = 50, batch = 64, relu_g = true}
check(schedule.tiling(avx512, "xtg", r50).sparse == nil, "tiling xtg 784x50 B=64 behind a ReLU: not sparse (generic)")
do
  local cpus = require "cpus"
  local z5 = cpus.specialise(avx512, cpus.resolve("zen5", "unit"))
  local function den(isa)
    local d = schedule.xtg_sparse_density(isa)
    return d[1] .. "/" .. d[2]
  end
  check(schedule.tiling(z5, "xtg", r50).sparse == true and den(z5) == "1/3" and den(avx512) == "3/5",
        "tiling xtg 784x50 B=64 behind a ReLU: sparse (zen5), from 1/3 of g nonzero (generic 3/5)")
  -- the lists as long as g's nonzeros at the density limit: 784x256 at zen5's 1/3 and B=128
  -- 8 x (10922 + 16) + 8 x 256 bytes (fits, though B=128 is not a default), B=256 past 128 KB
  check(schedule.xtg_sparse_bytes(z5, {K = 784, N = 256, batch = 128}) == 8 * (256 * 128 // 3 + 16) + 8 * 256
        and schedule.xtg_sparse_bytes(avx512, {K = 784, N = 256, batch = 64}) == 8 * (3 * 256 * 64 // 5 + 16) + 8 * 256,
        "xtg_sparse_bytes: the nonzeros at the family's density limit and a vector, 8 bytes each, and 8 per column")
  check(schedule.xtg_sparse_fits(z5, {K = 784, N = 256, batch = 128}) and not schedule.xtg_sparse_fits(z5, {K = 784, N = 256, batch = 256})
        and schedule.tiling(z5, "xtg", {K = 784, N = 256, batch = 128, relu_g = true}).sparse == nil,
        "zen5: the form fits 784x256 B=128, not B=256; not the default at B=128")
  local avx512 = cpus.specialise(avx512, cpus.resolve("zen4", "unit"))
  check(schedule.tiling(avx512, "xtg", r50).sparse == true, "tiling xtg 784x50 B=64 behind a ReLU: sparse (zen4)")
  check(schedule.tiling(avx512, "xtg", {K = 784, N = 50, batch = 64}).sparse == nil, "tiling xtg: not sparse without the ReLU")
  check(schedule.tiling(avx2, "xtg", r50).sparse == nil, "tiling xtg: not sparse on avx2")
  check(schedule.tiling(avx512, "xtg", {K = 50, N = 10, batch = 64, relu_g = true}).sparse == nil, "tiling xtg: not sparse for K=50")
  check(schedule.tiling(avx512, "xtg", {K = 784, N = 1024, batch = 64, relu_g = true}).sparse == nil,
        "tiling xtg: not sparse where the lists pass XTG_SPARSE_BYTES")
  check(schedule.tiling(avx512, "xtg", {K = 784, N = 1024, batch = 16, relu_g = true}).sparse == nil,
        "tiling xtg: not sparse for W past XTG_SPARSE_W_BYTES (784x1024 B=16)")
  check(schedule.tiling(avx512, "xtg", {K = 784, N = 512, batch = 16, relu_g = true}).sparse == nil,
        "tiling xtg: not sparse for 784x512 (1.6 MB of W)")
  check(schedule.tiling(avx512, "xtg", {K = 784, N = 50, batch = 128, relu_g = true}).sparse == nil
        and schedule.tiling(avx512, "xtg", {K = 784, N = 50, batch = 8, relu_g = true}).sparse == nil,
        "tiling xtg: not sparse at B=128 or B=8")
  check(schedule.tiling(avx512, "xtg", {K = 96, N = 50, batch = 64, relu_g = true}).sparse == nil,
        "tiling xtg: not sparse for K=96 (less than a block)")
  check(schedule.tiling(avx512, "xtg", {K = 784, N = 256, batch = 16, relu_g = true}).sparse == true,
        "tiling xtg: sparse for 784x256 B=16")
  check(schedule.tiling(avx512, "xtg", r50, {sparse = false}).sparse == false, "tiling xtg: sparse=no given")
end
local tanh50 = {K = 784, N = 50, batch = 64}
check(schedule.check(avx512, "xtg", tanh50, schedule.tiling(avx512, "xtg", tanh50, {sparse = true})) == nil,
      "tiling xtg: sparse=yes given for a layer without a ReLU")
local bad = schedule.check(avx512, "xtg", {K = 50, N = 10, batch = 64}, schedule.tiling(avx512, "xtg", {K = 50, N = 10, batch = 64}, {sparse = true}))
check(bad and bad:find("sparse=yes: needs avx512, a known batch and K=50 a multiple of 16", 1, true), "tiling xtg: sparse=yes refused for K=50: %s", tostring(bad))
-- the lists' bound depends on the family's density limit: a tune file (read before the
-- family is known, avx512 unspecialised) passes the check, and generation refuses the entry
-- where that family's lists pass XTG_SPARSE_BYTES, naming the file's line (tiling_for)
do
  local cpus = require "cpus"
  local s128 = {K = 784, N = 256, batch = 128, relu_g = true}
  local given = schedule.tiling(avx512, "xtg", s128, {sparse = true})
  check(schedule.check(avx512, "xtg", s128, given) == nil, "tune file's sparse=yes at 784x256 B=128: read")
  local gen5 = cpus.specialise(avx512, cpus.resolve("zen5", "unit"))
  local gen0 = cpus.specialise(avx512, cpus.resolve("generic", "unit"))
  check(schedule.check(gen5, "xtg", s128, given) == nil, "784x256 B=128 sparse=yes: fits zen5's lists (1/3 of g)")
  local big = schedule.check(gen0, "xtg", s128, given)
  check(big and big:find("lists of g's nonzeros at the density limit (3/5 of g) take 159456 bytes", 1, true),
        "784x256 B=128 sparse=yes refused for generic (3/5 of g): %s", tostring(big))
  local t = {given = {sparse = true}, where = "x.tune:4"}
  local a = {K = 784, N = 256, batch = 128, relu_g = true, tiling = t}
  check(schedule.tiling_for(gen5, "xtg", a).sparse == true, "tiling_for: the tune file's sparse=yes on zen5")
  local ok, e = pcall(schedule.tiling_for, gen0, "xtg", a)
  check(not ok and require("errors").is_user(e) and tostring(e):find("^x%.tune:4: xtg 784x256 B=128: sparse=yes: ") ~= nil,
        "tiling_for: the tune file's sparse=yes refused for generic, naming its line: %s", tostring(e))
end
check(schedule.check(avx2, "xtg", r50, schedule.tiling(avx2, "xtg", r50, {sparse = true})) ~= nil, "tiling xtg: sparse=yes refused on avx2")
-- the defaults: off (Zen 4)
check(schedule.tiling(avx2, "xw", s32).spread == 0, "tiling xw 784x256 B=32: no spread by default")
local w512 = schedule.tiling(avx512, "xw", s1024)
check(w512.spread == 0 and w512.pack and w512.fill == "tile", "tiling xw avx512 784x1024 B=64: no spread by default (%d)", w512.spread)
-- the key
local b32 = schedule.tiling(avx2, "xw", s32, {spread = 8})
check(b32.spread == 8 and schedule.check(avx2, "xw", s32, b32) == nil, "tiling xw 784x256 B=32: spread=8 given")
local w512s = schedule.tiling(avx512, "xw", s1024, {spread = 8})
check(w512s.spread == 8 and schedule.check(avx512, "xw", s1024, w512s) == nil, "tiling xw avx512 784x1024 B=64: spread=8 given")
local tried = false
for _, t in ipairs(schedule.candidates(avx512, "xw", s1024)) do
  if t.spread == schedule.SPREAD_TRY and t.vecs == w512.vecs and t.kc == w512.kc and t.mc == 0 then tried = true end
end
check(tried, "candidates xw avx512 784x1024 B=64: the default with spread=%d", schedule.SPREAD_TRY)
check(schedule.check(avx512, "xw", s1024, schedule.tiling(avx512, "xw", s1024, {spread = 6})) ~= nil, "spread=6 refused")
check(schedule.check(avx512, "xw", s1024, schedule.tiling(avx512, "xw", s1024, {spread = 8, fill = "loop"})) ~= nil,
  "spread=8 with fill=loop refused")
-- CPU families (gen/cpus.lua, gen --cpu): a family's own defaults replace the ISA's through
-- schedule.pick, for its ISA only; generic keeps the ISA's (zen4 its xw tilings, changing
-- only where the sparse conv weight gradient starts); every table a family
-- names is one of schedule's, per ISA; /proc/cpuinfo's vendor, family and model classify
do
  local cpus = require "cpus"
  local z5 = cpus.specialise(avx512, cpus.resolve("zen5", "unit"))
  local z3 = cpus.specialise(avx2, cpus.resolve("zen3", "unit"))
  check(z5.name == "avx512" and z5.width == avx512.width and z5.cpu.name == "zen5", "specialise: reads as the ISA")
  check(schedule.tiling(z5, "xw", s1024).spread == 8, "zen5: avx512 xw 784x1024 B=64 spreads by default")
  check(schedule.tiling(z3, "xw", s32).spread == 8, "zen3: avx2 xw 784x256 B=32 spreads by default")
  check(schedule.tiling(cpus.specialise(avx2, cpus.resolve("zen5", "unit")), "xw", s32).spread == 0,
    "zen5: avx2 keeps the ISA default (no spread)")
  for _, name in ipairs({"generic", "zen4"}) do
    local t = schedule.tiling(cpus.specialise(avx512, cpus.resolve(name, "unit")), "xw", s1024)
    check(t.spread == 0, "%s: avx512 xw 784x1024 keeps the ISA default", name)
  end
  check(schedule.tiling(z5, "xw", s1024, {spread = 0}).spread == 0, "zen5: a tune file's spread=0 still wins")
  local z4, z4avx2 = cpus.specialise(avx512, cpus.resolve("zen4", "unit")), cpus.specialise(avx2, cpus.resolve("zen4", "unit"))
  check(schedule.pick(z4, "CONV_SPARSE_K") == 3 and schedule.pick(avx512, "CONV_SPARSE_K") == 5
        and schedule.pick(z4avx2, "CONV_SPARSE_K") == 3,
        "zen4: avx512's sparse conv weight gradient from kernel 3 (generic: 5; avx2: 3 either way)")
  check(schedule.pick(z4, "CONV_SPARSE_DX_ADD") == 1 and schedule.pick(avx512, "CONV_SPARSE_DX_ADD") == 2
        and schedule.pick(z4avx2, "CONV_SPARSE_DX_ADD") == 2,
        "zen4: avx512's sparse conv input gradient weighs a frame add as 1 FMA (generic: 2; avx2: 2 either way)")
  -- zen5's huge layers (XW_HUGE_PACK_X off): x unpacked, PANEL_BYTES panels, the spread;
  -- the ISA default packs x; the weight gradient's xq stays
  local s2048 = {K = 784, N = 2048, batch = 64}
  local h5, hg = schedule.tiling(z5, "xw", s2048), schedule.tiling(avx512, "xw", s2048)
  check(schedule.huge(avx512, s2048) and hg.mc > 0 and hg.spread == 0, "avx512 784x2048 B=64: huge, x packed (mc %d)", hg.mc)
  check(h5.mc == 0 and h5.spread == 8 and h5.kc == 112 and h5.pack, "zen5 784x2048 B=64: x unpacked, kc 112, spread (mc %d kc %d spread %d)", h5.mc, h5.kc, h5.spread)
  check(schedule.tiling(z5, "xtg", s2048).xq == true, "zen5 784x2048 B=64: xtg still packs x (xq)")
  check(schedule.tiling(z5, "xw", s2048, {kc = 56}).mc == 0, "zen5: a tune line's kc alone keeps x unpacked")
  for name, f in pairs(cpus.FAMILIES) do
    for key, per_isa in pairs(f.defaults) do
      check(type(schedule[key]) == "table", "cpus %s: %s is not a table of gen/schedule.lua", name, key)
      for isa_name in pairs(per_isa) do
        check(isa_name == "avx2" or isa_name == "avx512" or isa_name == "neon", "cpus %s: %s names isa %s", name, key, isa_name)
      end
    end
  end
  local classes = {
    {"AuthenticAMD", 25, 1, "zen3"}, {"AuthenticAMD", 25, 33, "zen3"}, {"AuthenticAMD", 25, 17, "zen4"},
    {"AuthenticAMD", 25, 97, "zen4"}, {"AuthenticAMD", 25, 160, "zen4"}, {"AuthenticAMD", 26, 2, "zen5"},
    {"AuthenticAMD", 26, 68, "zen5"}, {"AuthenticAMD", 23, 49, "generic"}, {"AuthenticAMD", 26, 200, "generic"},
    {"GenuineIntel", 6, 207, "generic"}, {"GenuineIntel", 25, 17, "generic"}, {nil, nil, nil, "generic"},
  }
  for _, c in ipairs(classes) do
    local got = cpus.classify(c[1], c[2], c[3])
    check(got == c[4], "classify %s family %s model %s: %s, expected %s", tostring(c[1]), tostring(c[2]), tostring(c[3]), got, c[4])
  end
  local h = cpus.resolve("native", "unit")
  check(cpus.FAMILIES[h.name] ~= nil, "native resolves to a known family (%s)", h.name)
  check(not pcall(cpus.resolve, "zen9", "unit"), "an unknown family is refused")
end
-- xtg's aligned copy of g (gq): avx2, unpacked, N not a multiple of the width, K at least
-- XTG_G_COPY_K, the copy within XTG_G_BYTES; and in the kernel, aligned loads from gq plus the
-- x prefetch in the tile with the folded tail
check(schedule.tiling(avx2, "xtg", {K = 784, N = 50, batch = 64}).gq == true, "tiling xtg 784x50 B=64: gq")
check(not schedule.tiling(avx2, "xtg", {K = 784, N = 50, batch = 128}).gq, "tiling xtg 784x50 B=128: the copy past XTG_G_BYTES")
check(not schedule.tiling(avx2, "xtg", {K = 50, N = 10, batch = 64}).gq, "tiling xtg 50x10: K below XTG_G_COPY_K")
check(not schedule.tiling(avx2, "xtg", {K = 784, N = 64, batch = 64}).gq, "tiling xtg 784x64: rows already aligned")
check(not schedule.tiling(avx2, "xtg", {K = 784, N = 50}).gq, "tiling xtg: no copy without a batch")
check(not schedule.tiling(require "isa.avx512", "xtg", {K = 784, N = 50, batch = 64}).gq, "tiling xtg avx512: no gq")
do
  local x = require("kernels.tiled").matmul_xtg({n = "n", K = 784, N = 50, x = "x", x_ld = 784, g = "g", g_ld = 50, dw = "dw", db = "db", batch = 64}, avx2)
  check(x:find("float gq[3072]", 1, true) and x:find("_mm256_load_ps(bk)", 1, true) and x:find("_mm_prefetch((const char *)(x + i * 784", 1, true)
        and not x:find("_mm256_loadu_ps(bk)", 1, true), "matmul_xtg 784x50 B=64 avx2: g copied, aligned loads, x prefetched")
end
-- packed x (mc): the whole batch when its block fits XW_X_BYTES, else even blocks of whole
-- row tiles; none unpacked or without a known batch; check refuses the shapes the kernel
-- cannot write
local big = schedule.tiling(avx2, "xw", {K = 2048, N = 2048, batch = 64})
check(big.pack and big.kc == 64 and big.mc == 64, "tiling xw 2048x2048 B=64: kc %d mc %d", big.kc, big.mc)
-- avx2's huge xw (XW_X_L1): the whole batch's block of x and the panel within the L1 share;
-- a batch too large for XW_L1_KC_MIN keeps the PANEL_BYTES_X panel; not on avx512 (its
-- L2_BYTES makes 784x1024 not huge), nor with a tune file's kc
for _, sz in ipairs({{784, 1024, 64, 56}, {2048, 2048, 64, 64}, {997, 1100, 50, 93}, {1100, 300, 50, 55}, {784, 2048, 8, 112}}) do
  local t = schedule.tiling(avx2, "xw", {K = sz[1], N = sz[2], batch = sz[3]})
  check(t.pack and t.kc == sz[4] and t.mc == sz[3] and 4 * t.kc * (t.mc + t.vecs * avx2.width) <= schedule.XW_L1_SHARE * schedule.L1_BYTES,
        "tiling xw %dx%d B=%d: kc %d (expected %d) mc %d", sz[1], sz[2], sz[3], t.kc, sz[4], t.mc)
end
-- (B=8: packed for its 8 KB row stride, 4-row tiles of 3 vectors; the L1 rule's kc is no
-- smaller than the 16 KB panel's, 112)
check(schedule.tiling(avx2, "xw", {K = 2048, N = 2048, batch = 256}).kc == 256, "tiling xw 2048x2048 B=256: the PANEL_BYTES_X kc")
check(schedule.xw_l1_kc(avx2, {K = 2048, N = 2048, batch = 256}, 2) == nil, "xw_l1_kc 2048x2048 B=256: below XW_L1_KC_MIN")
check(schedule.xw_l1_kc(require "isa.avx512", {K = 2048, N = 2048, batch = 64}, 3) == nil, "xw_l1_kc avx512: not its rule")
check(schedule.tiling(avx2, "xw", {K = 784, N = 256, batch = 64}).kc == 392, "tiling xw 784x256 B=64 (not huge): the 32 KB panel's kc")
check(schedule.tiling(avx2, "xw", {K = 2048, N = 2048, batch = 64}, {kc = 512}).kc == 512, "tiling xw: a tune file's kc kept")
local b256 = schedule.tiling(avx2, "xw", {K = 784, N = 256, batch = 256})
check(b256.mc % 6 == 0 and b256.mc < 256 and 4 * b256.mc * b256.kc <= schedule.XW_X_BYTES + 4 * 6 * b256.kc,
      "tiling xw 784x256 B=256: mc %d kc %d", b256.mc, b256.kc)
check(schedule.tiling(avx2, "xw", {K = 784, N = 1024}).mc == 0, "tiling xw: no packed x without a batch")
check(schedule.tiling(avx2, "xw", {K = 784, N = 1024, batch = 64}, {pack = false, order = "rows"}).mc == 0,
      "tiling xw: a tune file's pack=no packs no x")
check(schedule.check(avx2, "xw", {K = 784, N = 256, batch = 256}, {vecs = 2, order = "columns", pack = true, kc = 98, mc = 20})
      ~= nil, "check: mc not a multiple of the tile's rows")
check(schedule.check(avx2, "xw", {K = 784, N = 256, batch = 64}, {vecs = 2, order = "columns", pack = false, kc = 784, mc = 64})
      ~= nil, "check: mc without packed panels")
for _, isa in ipairs(ISAS) do
  local g = schedule.tiling(isa, "gwt", {K = 2048, N = 2048, batch = 64})
  check(g.jc * g.vecs * isa.width * 4 <= schedule.WT_BYTES and 2048 % g.jc == 0, "%s tiling gwt 2048: jc %d", isa.name, g.jc)
end

-- candidates (chainrule tune): the default first, every one a full tiling schedule.check
-- accepts, no two alike; the kernels write each (gen/kernels/tiled.lua, stream.lua)
local tiled_k = require "kernels.tiled"
for _, isa in ipairs(ISAS) do
  for _, sz in ipairs({{784, 50, 64}, {784, 256, 8}, {100, 1024, 5}, {1024, 523, 5}, {50, 10, 64}, {200, 1, 3},
                       {784, 50, 1}, {5, 460, 1}, {131, 10, 1}, {601, 74, 230}}) do
    local s = {K = sz[1], N = sz[2], batch = sz[3]}
    for _, product in ipairs(s.batch == 1 and {"stream", "gwt", "xtg"} or {"xw", "gwt", "xtg"}) do
      local cands = schedule.candidates(isa, product, s)
      check(#cands >= 1, "%s %s %dx%d: no candidates", isa.name, product, s.K, s.N)
      local seen = {}
      for i, c in ipairs(cands) do
        local w = schedule.words(product, c)
        check(not schedule.check(isa, product, s, c), "%s %s %dx%d candidate %s: %s", isa.name, product, s.K, s.N, w,
              tostring((schedule.check(isa, product, s, c))))
        check(not seen[w], "%s %s %dx%d: candidate %s twice", isa.name, product, s.K, s.N, w)
        seen[w] = true
        if i == 1 and product ~= "stream" then
          check(w == schedule.words(product, schedule.tiling(isa, product, s)), "%s %s: the first candidate is the default", isa.name, product)
        end
        local a = {n = "n", K = s.K, N = s.N, x = "x", x_ld = s.K, w = "w", b = "b", y = "y", y_ld = s.N, batch = s.batch,
                   g = "g", g_ld = s.N, dx = "dx", dx_ld = s.K, dw = "dw", db = "db", tiling = c}
        if product == "stream" then a.tiling, a.stream = nil, c end
        local fn = product == "gwt" and tiled_k.matmul_gwt or product == "xtg" and tiled_k.matmul_xtg or tiled_k.matmul_xw
        check(#fn(a, isa) > 0, "%s %s: no code", isa.name, product)
      end
    end
  end
end
check(schedule.check(avx2, "xw", {K = 784, N = 50, batch = 64}, {vecs = 2, order = "rows", pack = true, kc = 784})
      == "pack=yes needs order=columns or depth", "check: packing needs the column or depth order")
check(schedule.check(avx2, "gwt", {K = 50, N = 10, batch = 64}, {vecs = 1, rows = 6, jc = 7})
      == "jc=7: expected a multiple of 8 or a divisor of 10", "check: jc a multiple of the transpose")
check(schedule.check(avx2, "gwt", {K = 50, N = 10, batch = 64}, {vecs = 1, rows = 6, jc = 8, form = "gt"})
      == "form=gt: K=50 below the 64 rows of g it transposes into dW", "check: gwt's form gt needs dW as large as g")
check(schedule.tiling(avx2, "gwt", {K = 2048, N = 2048, batch = 64}).form == "gt"
      and schedule.tiling(avx2, "gwt", {K = 256, N = 256, batch = 64}).form == "wt", "gwt's default form by W's size")
do
  -- xw k-blocks outer with packed panels where x passes the family's L2 (XW_DEPTH: avx2 only)
  local t256 = schedule.tiling(avx2, "xw", {K = 784, N = 256, batch = 256})
  local t128 = schedule.tiling(avx2, "xw", {K = 784, N = 256, batch = 128})
  local t512 = schedule.tiling(require "isa.avx512", "xw", {K = 784, N = 256, batch = 256})
  check(t256.order == "depth" and t256.pack and t256.kc == 196 and t256.mc == 0, "xw_depth: 784x256 B=256 on avx2")
  check(t128.order == "columns" and t512.order ~= "depth", "xw_depth: not at B=128 on avx2, nor on avx512")
  check(schedule.tiling(avx2, "xw", {K = 4095, N = 10, batch = 64}).order == "columns", "xw_depth: not with one column block")
  check(schedule.check(avx2, "xw", {K = 784, N = 256, batch = 256}, {vecs = 2, order = "depth", pack = true, kc = 196, mc = 48,
        fill = "tile", pf = false}) == "mc=48 needs order=columns", "check: x packed needs the column order")
end
check(schedule.check(avx2, "stream", {K = 784, N = 256, batch = 1}, {kind = "regs"})
      == "kind=regs does not suit 784x256 on avx2", "check: 32 vectors do not fit the registers")

-- flat_plan (B = 1 on an ISA with a lane permute): one period is lcm(N, V) floats
local stream = require "kernels.stream"
local avx512 = require "isa.avx512"
local f = stream.flat_plan({batch = 1, K = 784, N = 50}, avx512)
check(f and f.L == 400 and f.P == 8 and f.U == 25 and f.periods == 98, "flat_plan 784x50 on avx512")
check(stream.flat_plan({batch = 2, K = 784, N = 50}, avx512) == nil, "flat_plan needs batch 1")
check(stream.flat_plan({batch = 1, K = 784, N = 64}, avx512) == nil, "flat_plan: N a multiple of V needs no stream")
check(stream.flat_plan({batch = 1, K = 784, N = 50}, require "isa.neon") == nil, "flat_plan needs a permute or bcast2")
check(f.groups == 1 and f.chunk == nil, "flat_plan 784x50 on avx512: one pass")
-- avx2's 16 registers: 25 vectors in 3 passes, each over runs of 20 periods (16 KB of W)
local f2 = stream.flat_plan({batch = 1, K = 784, N = 50}, require "isa.avx2")
check(f2 and f2.U == 25 and f2.P == 4 and f2.groups == 3 and f2.chunk == 20, "flat_plan 784x50 on avx2")
check(stream.flat_plan({batch = 1, K = 784, N = 131}, require "isa.avx2") == nil, "flat_plan: at most 3 passes")
-- inputs by splats of 4-float blocks where a period is whole blocks (P = 8 and 4 here; 784-100
-- on avx2 has P = 2: one broadcast per input, so no read past x)
check(f.splat and f2.splat and not stream.flat_plan({batch = 1, K = 784, N = 100}, require "isa.avx2").splat,
      "flat_plan: splats where P is a multiple of 4")
for N = 17, 200 do
  local fp = stream.flat_plan({batch = 1, K = 1024, N = N}, avx512)
  if fp then
    check(fp.L % N == 0 and fp.L % 16 == 0 and (fp.U + fp.groups - 1) // fp.groups + 6 <= avx512.regs
          and fp.groups <= 3 and fp.P * N == fp.L and (fp.groups > 1 or not fp.chunk)
          and (not fp.chunk or fp.chunk * fp.L * 4 <= 16384 and fp.chunk < fp.periods),
          "flat_plan N = %d: L %d, P %d, U %d", N, fp.L, fp.P, fp.U)
  end
end

-- a weight gradient narrower than a vector runs along k (XTG_NARROW) where B (W - N) >= 2 N W:
-- avx512 256x10 at B=54 and up, 50x1 from B=3; not at B=32 (10 columns), not avx2
check(schedule.xtg_narrow(avx512, {K = 256, N = 10, batch = 256}), "xtg_narrow avx512 256x10 B=256")
check(schedule.xtg_narrow(avx512, {K = 256, N = 10, batch = 54}), "xtg_narrow avx512 256x10 B=54")
check(not schedule.xtg_narrow(avx512, {K = 256, N = 10, batch = 53}), "xtg_narrow avx512 256x10 B=53: no")
check(not schedule.xtg_narrow(avx512, {K = 256, N = 10, batch = 32}), "xtg_narrow avx512 256x10 B=32: no")
check(schedule.xtg_narrow(avx512, {K = 50, N = 1, batch = 3}), "xtg_narrow avx512 50x1 B=3")
check(not schedule.xtg_narrow(avx512, {K = 256, N = 16, batch = 256}), "xtg_narrow avx512 N = 16: no")
check(not schedule.xtg_narrow(avx512, {K = 256, N = 10}), "xtg_narrow without a batch: no")
check(not schedule.xtg_narrow(require "isa.avx2", {K = 50, N = 1, batch = 64}), "xtg_narrow avx2: no")
do
  local x = require("kernels.tiled").matmul_xtg({n = "n", K = 256, N = 10, x = "x", x_ld = 256, g = "g", g_ld = 10,
                                                 dw = "dw", db = "db", batch = 256}, avx512)
  check(x:find("tiles along k (narrower than a vector)", 1, true) and not x:find("_mm512_mask_storeu_ps(dr", 1, true),
        "matmul_xtg avx512 256x10 B=256: the narrow form")
end

-- gwt's form: avx512 takes "gt" where it transposes at most half of W's floats, the batch in
-- whole slices of 32 rows, not on the first layer (GWT_GT_FEWER); avx2 keeps "wt" there
check(schedule.gwt_form(avx512, {K = 256, N = 256, batch = 64}) == "gt", "gwt_form avx512 256x256 B=64: gt")
check(schedule.gwt_form(avx512, {K = 256, N = 256, batch = 64, first = true}) == "wt", "gwt_form: not the first layer")
check(schedule.gwt_form(avx512, {K = 256, N = 256, batch = 128}) == "wt", "gwt_form avx512 256x256 B=128: wt (no saving)")
check(schedule.gwt_form(avx512, {K = 400, N = 120, batch = 64}) == "wt", "gwt_form avx512 400x120 B=64: wt (2/3)")
check(schedule.gwt_form(avx512, {K = 256, N = 256, batch = 8}) == "wt", "gwt_form avx512 B=8: wt (a padded slice)")
check(schedule.gwt_form(require "isa.avx2", {K = 256, N = 256, batch = 64}) == "wt", "gwt_form avx2 256x256: wt")
-- and that hidden layer's weight gradient keeps its update in the tiles (XTG_TILES_UNDER_GT),
-- not in compact code (no gt there) nor on the first layer nor on avx2
do
  local was = schedule.compact
  schedule.compact = false
  local h = {K = 256, N = 256, batch = 64, first = false}
  check(schedule.tiling(avx512, "xtg", h).update == "tiles", "xtg avx512 256x256 B=64 under gt: update in the tiles")
  check(schedule.tiling(avx512, "xtg", {K = 256, N = 256, batch = 64, first = true}).update == "after", "xtg: first layer after")
  local avx2x = require "isa.avx2"
  check(schedule.tiling(avx2x, "xtg", h).update == schedule.tiling(avx2x, "xtg", {K = 256, N = 256, batch = 64}).update,
        "xtg avx2 256x256 B=64: a hidden layer's update as by default")
  -- a tune file's line that leaves update out takes the default of the layer it applies
  -- to (first or hidden: the kernel's tiling_for), not of K, N and BATCH alone
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("chainrule-tune 1\nisa avx512\nxtg 256 256 64 vecs=3\nxw 256 256 64 vecs=3\n")
  f:close()
  local tf = require("tune").load(path)
  os.remove(path)
  local tx, tw
  for _, t in pairs(tf.entries) do if t.update then tx = t else tw = t end end
  local function upd(first) return schedule.tiling_for(avx512, "xtg", {K = 256, N = 256, batch = 64, first = first, tiling = tx}) end
  check(upd(false).update == "tiles" and upd(false).vecs == 3, "tune file xtg vecs=3 on a hidden layer under gt: update in the tiles")
  check(upd(true).update == "after" and upd(true).vecs == 3, "tune file xtg vecs=3 on the first layer: update after")
  local xw = schedule.tiling_for(avx512, "xw", {K = 256, N = 256, batch = 64, tiling = tw})
  for k, v in pairs(tw) do
    check(k == "given" or k == "where" or xw[k] == v, "tune file xw: %s as loaded (%s), got %s", k, tostring(v), tostring(xw[k]))
  end
  schedule.compact = true
  check(schedule.tiling(avx512, "xtg", h).update == "after", "xtg avx512 compact: after")
  schedule.compact = was
end

-- a tune file's xw line where XW_DEPTH fires (avx2 784x256 B=256: k-blocks outer, packed,
-- kc 196): the keys it leaves out keep the layer's default only where that agrees with the
-- keys it gives. order=columns takes the column order's own kc (the layer's tiling without
-- XW_DEPTH), not the depth slab's; mc > 0 (x packed: column blocks only) implies order=columns
-- and pack=yes; order=rows implies pack=no; order=depth on a huge layer drops the default mc;
-- mc with an explicit order=depth stays an error
do
  local avx2x = require "isa.avx2"
  local s = {K = 784, N = 256, batch = 256}
  local function tl(over) return schedule.tiling(avx2x, "xw", s, over) end
  local function ok(t) return schedule.check(avx2x, "xw", s, t) end
  local def = tl()
  check(def.order == "depth" and def.pack and def.kc == schedule.xw_depth_kc(avx2x, s, def.vecs) and def.mc == 0,
        "xw avx2 784x256 B=256: XW_DEPTH's default (%s)", schedule.words("xw", def))
  local was = schedule.XW_DEPTH.avx2
  schedule.XW_DEPTH.avx2 = false
  local cols = tl()
  schedule.XW_DEPTH.avx2 = was
  check(cols.order == "columns" and cols.pack and cols.kc ~= def.kc, "xw 784x256 B=256 without XW_DEPTH: %s", schedule.words("xw", cols))
  local t = tl({order = "columns"})
  check(ok(t) == nil and t.kc == cols.kc and t.pack and t.mc == 0,
        "order=columns: the column order's kc %d, got %s (%s)", cols.kc, schedule.words("xw", t), tostring(ok(t)))
  t = tl({mc = 60})
  check(ok(t) == nil and t.order == "columns" and t.pack and t.kc == cols.kc and t.mc == 60 and t.pf,
        "mc=60: order=columns implied, got %s (%s)", schedule.words("xw", t), tostring(ok(t)))
  t = tl({order = "rows"})
  check(ok(t) == nil and not t.pack and t.kc == s.K, "order=rows: pack=no implied, got %s (%s)", schedule.words("xw", t), tostring(ok(t)))
  t = tl({pack = false})
  check(ok(t) == nil and t.order == "depth" and t.kc == schedule.depth_kc(s), "pack=no: unpacked depth's kc, got %s", schedule.words("xw", t))
  t = tl({order = "depth", kc = 98})
  check(ok(t) == nil and t.kc == 98, "order=depth kc=98: the given kc, got %s", schedule.words("xw", t))
  check(ok(tl({order = "depth", mc = 60})) == "mc=60 needs order=columns", "order=depth mc=60: an error, got %s",
        tostring(ok(tl({order = "depth", mc = 60}))))
  -- a huge layer (x packed by default, mc > 0): order=depth alone drops the default mc
  local hs = {K = 784, N = 2048, batch = 64}
  check(schedule.tiling(avx2x, "xw", hs).mc > 0, "xw avx2 784x2048 B=64: mc by default")
  t = schedule.tiling(avx2x, "xw", hs, {order = "depth"})
  check(schedule.check(avx2x, "xw", hs, t) == nil and t.mc == 0 and not t.pf and t.kc == schedule.xw_depth_kc(avx2x, hs, t.vecs),
        "huge order=depth: mc 0 and depth's kc, got %s", schedule.words("xw", t))
  -- a given vecs sets the widths kc follows: order=columns vecs=1 takes the panel kc of
  -- 1-vector tiles (a larger kc than the default width's), not the default width's kc
  local one = tl({order = "columns", vecs = 1})
  local pb = schedule.huge(avx2x, s) and schedule.PANEL_BYTES_X or schedule.PANEL_BYTES
  local want = schedule.block(s.K, math.max(1, pb // (4 * 1 * avx2x.width)), 1)
  if schedule.xw_whole_k(avx2x, s) then want = s.K end
  check(ok(one) == nil and one.vecs == 1 and one.kc == want and one.kc > cols.kc,
        "order=columns vecs=1: kc %d of 1-vector panels, got %s", want, schedule.words("xw", one))
  -- a keyless tiling is the default; a line with neither pack, order nor mc keeps the
  -- default's order and kc
  check(schedule.words("xw", tl({})) == schedule.words("xw", def), "over {}: the default")
  t = tl({fill = "loop"})
  check(t.order == def.order and t.kc == def.kc and t.fill == "loop", "fill=loop: the default's order and kc")
  -- through a tune file: the line loads, and the kernel's tiling_for resolves it the same way
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("chainrule-tune 1\nisa avx2\nxw 784 256 256 mc=60\nxw 784 256 128 order=columns\n")
  f:close()
  local loaded, tf = pcall(require("tune").load, path)
  os.remove(path)
  check(loaded, "tune file with 'xw 784 256 256 mc=60': %s", type(tf) == "table" and tostring(tf.message or tf[1]) or tostring(tf))
  for key, e in pairs(tf.entries) do
    local b = tonumber(key:match("(%d+)$"))
    local r = schedule.tiling_for(avx2x, "xw", {K = 784, N = 256, batch = b, tiling = e})
    check(r.order == "columns" and r.pack and (b == 128 or r.mc == 60), "tune file %s: %s", key, schedule.words("xw", r))
  end
end

-- stream.plan (every B = 1 product on a SIMD ISA): flat where it applies, else every output
-- vector in registers (sets of accumulators enough to keep 8 FMAs in flight, within the
-- registers), else the rows stream; nothing for a batch above 1 or the scalar ISA
for _, isa in ipairs(ISAS) do
  local cap = isa.regs - 4
  for _, N in ipairs({1, 7, 10, 16, 50, 64, 96, 97, 112, 113, 130, 448, 449, 2048}) do
    for _, K in ipairs({1, 5, 784}) do
      local p = stream.plan({batch = 1, K = K, N = N}, isa)
      local nvec = (N + isa.width - 1) // isa.width
      check(p and stream.plan({batch = 2, K = K, N = N}, isa) == nil, "%s stream.plan(%d, %d): batch 1 only", isa.name, K, N)
      if p.kind == "regs" then
        check(nvec <= cap and p.nvec == nvec and p.sets >= 1 and p.sets * nvec <= cap and p.sets <= K
              and (p.sets * nvec >= 8 or p.sets == K or (p.sets + 1) * nvec > cap),
              "%s stream.plan(%d, %d): %d vectors in %d sets", isa.name, K, N, nvec, p.sets)
      elseif p.kind == "rows" then
        check(nvec > cap and p.rows == math.min(8, K), "%s stream.plan(%d, %d): rows %d", isa.name, K, N, p.rows)
      else
        check(p.kind == "flat" and (isa.permute or isa.bcast2) and N % isa.width ~= 0, "%s stream.plan(%d, %d): %s", isa.name, K, N, p.kind)
      end
    end
  end
end
check(stream.plan({batch = 1, K = 784, N = 50}, require "isa.scalar") == nil, "stream.plan: not for the scalar ISA")
check(stream.plan({batch = 1, K = 784, N = 2048}, require "isa.avx2").kind == "rows", "784x2048 on avx2: rows stream")
check(stream.plan({batch = 1, K = 784, N = 50}, require "isa.avx2").kind == "flat", "784x50 on avx2: the flat stream")
check(stream.plan({batch = 1, K = 784, N = 50, stream = {kind = "regs"}}, require "isa.avx2").sets == 1,
      "784x50 on avx2 asked for regs: 7 vectors, one set")

-- the op registry (gen/ops.lua): every op declares what the generator asks of it ---------
local ops = require "ops"
local scalar = require "isa.scalar"
local words = ops.words()
check(#words >= 9 and words[1] == "conv2d" and words[2] == "linear" and words[3] == "avgpool2d",
      "registry words: %s", table.concat(words, " "))
for _, op in ipairs(ops.all()) do
  check(op.role == "product" or op.role == "map" or op.role == "activation", "%s: role", op.word)
  check(op.role == "activation" or type(op.check) == "function", "%s: a product or map op has check()", op.word)
  check(op.role ~= "map" or (type(op.kernels) == "string" and (op.modes or #op.params({}) == 0)),
        "%s: a map op has its own kernels, and parameters only with modes (batchnorm)", op.word)
  check(op.input == nil or op.input == "image" or op.input == "flat", "%s: input", op.word)
  check(type(op.flops) == "function" and type(op.params) == "function" and type(op.example) == "string",
        "%s: flops, params, example", op.word)
  if op.role == "activation" then
    local o = {}
    for _, opt in ipairs(op.options) do o[opt.name] = opt.default end
    check(#op.params(o) == 0, "%s: an activation has no parameters", op.word)
    check(type(op.forward(scalar, "v", o)) == "string", "%s: scalar forward spelling", op.word)
    check(op.grad.uses == "input" or op.grad.uses == "output", "%s: grad.uses", op.word)
    check(type(op.grad.rule(scalar, "g", "m", o)) == "string" and type(op.grad.derivative(o, "m")) == "string",
          "%s: gradient rule", op.word)
    for _, isa in ipairs(ISAS) do
      check(type(op.grad.rule(isa, "g", "m", o)) == "string", "%s: gradient rule on %s", op.word, isa.name)
    end
  end
end
check(ops.get("relu").forward(scalar, "v", {shift = -0.5}) == "(v > 0.0f ? v : 0.0f) - 0.5f", "relu with shift")
check(ops.get("leaky_relu").forward(scalar, "v", {slope = 0.1}) == "(v > 0.0f ? v : 0.1f * v)", "leaky_relu forward")
check(ops.get("tanh").grad.rule(scalar, "g", "a") == "g * (1.0f - a * a)", "tanh gradient")
check(ops.get("sigmoid").grad.rule(scalar, "g", "a") == "g * (1.0f - a) * a", "sigmoid gradient")

-- names: the static functions a network name must not take
local names = require "names"
for _, n in ipairs({"forward", "mse", "softmax_cross_entropy", "l0_linear", "l12_relu", "l3_linear_tanh",
                    "l1_sigmoid"}) do
  check(names.reserved(n), "'%s' is reserved", n)
end
for _, n in ipairs({"net", "l0", "linear", "l0_linear_linear", "mnist_mlp"}) do
  check(not names.reserved(n), "'%s' is not reserved", n)
end

-- tune.whole_keeps: the per-product choices stay only if the whole step got faster (median < 1)
local tune = require "tune"
local function keeps(ratios, want_keep, want_median)
  local keep, median = tune.whole_keeps(ratios)
  check(keep == want_keep, "whole_keeps(%s) -> %s, want %s", table.concat(ratios, ","), tostring(keep), tostring(want_keep))
  check(median == want_median, "whole_keeps(%s): median %s, want %s", table.concat(ratios, ","), tostring(median), tostring(want_median))
end
keeps({0.9, 0.95, 1.2}, true, 0.95)        -- faster in most pairs: kept
keeps({1.31, 1.2, 0.9}, false, 1.2)        -- the measured 784x256 case: slower, dropped
keeps({1.0, 1.0, 1.0}, false, 1.0)         -- not faster: the defaults
keeps({1.5, 0.5, 0.75, 0.25}, true, 0.625) -- even count: the mean of the middle two
keeps({0.99}, true, 0.99)
check(not tune.whole_keeps({}), "no ratios: nothing measured, nothing kept")
local input = {1.2, 0.8, 0.9}
tune.whole_keeps(input)
check(input[1] == 1.2 and input[3] == 0.9, "whole_keeps must not sort its argument")

-- tune.step_bytes / weight_copies: the timed calls of a product rotate through as many copies
-- of its W as the step sweeps through Ws of its size (every W once), rounded
local function prod(kind, K, N) return {product = kind, K = K, N = N} end
local train = {prod("xw", 784, 50), prod("xtg", 784, 50), prod("xw", 50, 10), prod("gwt", 50, 10), prod("xtg", 50, 10)}
check(tune.step_bytes(train) == 4 * (784 * 50 + 50 * 10), "step_bytes(784-50-10 training) = %d", tune.step_bytes(train))
local infer = {prod("stream", 784, 50), prod("xw", 50, 10)}
check(tune.step_bytes(infer) == 4 * (784 * 50 + 50 * 10), "step_bytes(inference) = %d", tune.step_bytes(infer))
local function copies(bytes, reach, want)
  local got = tune.weight_copies(bytes, reach)
  check(got == want, "weight_copies(%d, %d) = %d, want %d", bytes, reach, got, want)
end
local big = 4 * (784 * 2048 + 2048 * 2048 + 2048 * 10)
copies(4 * 784 * 50, tune.step_bytes(train), 1)       -- 784-50-10: its first W is nearly all
copies(4 * 784 * 1024, 4 * (784 * 1024 + 1024 * 10), 1)   -- 784-1024-10 (measured: 2 was too cold)
copies(4 * 784 * 2048, big, 4)                        -- 784-2048-2048-10's first W: 3.6 rounded
copies(4 * 2048 * 2048, big, 1)                       -- its 2048x2048 W: 1.4 rounded
copies(4 * 256 * 256, 4 * (784 * 256 + 256 * 256 + 256 * 10), 4)   -- 784-256-256-10's middle W
copies(100, 250, 3)                                   -- 2.5 rounds up
copies(100, 249, 2)
copies(100, 50, 1)                                    -- never fewer than one
copies(1, 1 << 30, tune.WEIGHT_COPIES)                -- at most WEIGHT_COPIES
copies(200 * 1024 * 1024, 1 << 32, 1)                 -- and at most WEIGHT_COPY_BYTES in all

-- z buffers: NAME_work documents zN as "not written by this build" exactly where the
-- training forward leaves it alone (convtile.lua's and layer.lua's "(void)z;", no other use
-- of z in the step's forward), on every ISA, for the conv specs with and without a pool
-- after a ReLU, and linear layers with relu (plain and shifted), leaky_relu, tanh and
-- sigmoid, at batch 1 (the stream), k-blocked (huge_xw, xw_depth) and in compact code
do
  local driver = require "driver"
  local found = {}
  for _, spec in ipairs({"specs/mnist_cnn.lua", "bench/specs/bench_lenet.lua", "tests/isa/specs/pool_narrow.lua",
                         "tests/isa/specs/conv_pad.lua", "tests/isa/specs/bn_drop.lua", "specs/mnist_mlp.lua",
                         "specs/seed_mse.lua", "tests/isa/specs/act_mix.lua", "tests/isa/specs/b1_flat.lua",
                         "tests/isa/specs/b1_wide.lua", "tests/isa/specs/huge_xw.lua", "tests/isa/specs/xw_depth.lua",
                         "tests/isa/specs/shared_odd.lua"}) do
    for _, isa in ipairs({"scalar", "avx2", "avx512", "neon"}) do
      local h, c
      for _, f in ipairs(driver.generate({spec = spec, isa = isa, compact = spec:find("shared_odd", 1, true) and true})) do
        if f[1]:match("%.h$") then h = f[2] elseif f[1]:match("%.c$") then c = f[2] end
      end
      check(h and c, "%s %s: a .h and a .c", spec, isa)
      for layer, what in h:gmatch("float z(%d+)%[%d+%];%s*/%*([^\n]*)%*/") do
        local fn = c:match("(l" .. layer .. "_[%w_]-_forward)%(w%->z" .. layer .. ",")
        check(fn, "%s %s: no forward call writing z%s", spec, isa, layer)
        local from = c:find("static void " .. fn .. "(", 1, true)
        local to = from and c:find("\n}\n", from, true)
        check(to, "%s %s: no definition of %s", spec, isa, fn)
        local body = c:sub(c:find("{\n", from, true), to):gsub("%(void%)z;", "")
        local writes = body:find("%f[%w_]z%f[^%w_]") ~= nil
        local says = what:find("not written by this build", 1, true) ~= nil
        check(writes ~= says, "%s %s: z%s %s by %s, but NAME_work says: %s", spec, isa, layer,
              writes and "written" or "not written", fn, what)
        found[says] = true
      end
    end
  end
  check(found[true] and found[false], "conv z buffers: both written and unwritten ones seen")
  -- --dispatch: the public header names the variants that leave z unwritten, each variant's
  -- own header says it as above
  local files = {}
  for _, f in ipairs(driver.generate({spec = "specs/mnist_cnn.lua", dispatch_variants = DISPATCH3})) do
    files[f[1]] = f[2]
  end
  for _, h in ipairs({"mnist_cnn.h", "mnist_cnn_avx2.h", "mnist_cnn_scalar.h"}) do
    check(files[h], "--dispatch: no %s", h)
  end
  local want = {["mnist_cnn.h"] = "not written by the avx512 and avx2 variants (", ["mnist_cnn_avx2.h"] = "not written by this build (",
                ["mnist_cnn_scalar.h"] = false}
  for h, w in pairs(want) do
    for _, layer in ipairs({0, 3}) do
      local what = files[h]:match("float z" .. layer .. "%[%d+%];%s*/%*([^\n]*)%*/")
      check(what and (w and what:find(w, 1, true) or not w and not what:find("not written", 1, true)),
            "--dispatch %s: z%d: %s", h, layer, tostring(what))
    end
  end
end

-- The banner's code column of a conv2d says "tiled" exactly when its kernels are
-- gen/kernels/convtile.lua's register tiles (their comments name the file), else "loops"
do
  local driver = require "driver"
  for _, spec in ipairs({"specs/mnist_cnn.lua", "specs/fashion_cnn.lua"}) do
    for _, isa in ipairs({"scalar", "sse2", "avx2", "avx512", "neon"}) do
      local h, c
      for _, f in ipairs(driver.generate({spec = spec, isa = isa})) do
        if f[1]:match("%.h$") then h = f[2] elseif f[1]:match("%.c$") then c = f[2] end
      end
      local tiles = c:find("(gen/kernels/convtile.lua)", 1, true) ~= nil
      local n = 0
      for code in h:gmatch("\n %*%s+%d+ conv2d[^\n]-(%a+)\n") do
        n = n + 1
        check(code == (tiles and "tiled" or "loops"), "%s %s: a conv2d row's code is %s, its kernels %s convtile's",
              spec, isa, code, tiles and "are" or "are not")
      end
      check(n == 2, "%s %s: %d conv2d rows in the banner", spec, isa, n)
      check(tiles == (isa ~= "scalar"), "%s %s: convtile's kernels %s", spec, isa, tiles and "used" or "not used")
    end
  end
end

-- plan's row padding: a linear layer's buffers of 1024 floats a row get 1040 (ROW_PAD_*),
-- the network's output and batch 1 stay dense, and every ISA and a --dispatch build's
-- public header agree (one NAME_work layout)
do
  local driver = require "driver"
  local function header(o)
    for _, f in ipairs(driver.generate(o)) do
      if f[1]:match("^huge512%.h$") then return f[2] end
    end
  end
  local function rows(h, member) return h:match("float " .. member .. "%[%d+%];%s*/%* %[(%d+%]%[%d+)%]") end
  local spec = "tests/isa/specs/huge512.lua"
  for _, o in ipairs({{spec = spec, isa = "scalar"}, {spec = spec, isa = "avx512", cpu = "zen5"}, {spec = spec, isa = "neon"},
                      {spec = spec, dispatch_variants = DISPATCH3}}) do
    local h = header(o)
    local what = o.isa or "--dispatch"
    check(h, "%s: no huge512.h", what)
    for _, m in ipairs({"z0", "a1", "d0"}) do
      check(rows(h, m) == "21][1040", "%s: %s is [%s], not [21][1040]", what, m, tostring(rows(h, m)))
    end
    check(rows(h, "a2") == "21][10" and rows(h, "d2") == "21][10", "%s: the output stays dense: %s", what, tostring(rows(h, "a2")))
  end
  local h = header({spec = spec, isa = "avx512", batch = 1})
  check(h and rows(h, "a1") == "1][1024", "batch 1: a1 dense, got %s", h and tostring(rows(h, "a1")))
end

-- packed xtg where only a one-vector tile divides N: the default width and a ragged last
-- block on avx2 and avx512 (XTG_RAGGED), one-vector tiles on neon; check takes jc = N or
-- whole tiles only
do
  local neon = (require "isa.neon")
  local r2 = schedule.tiling(avx2, "xtg", {K = 784, N = 1000, batch = 64})
  check(r2.pack and r2.vecs == 2 and r2.jc % 16 == 0, "tiling xtg avx2 784x1000: ragged 2-vector tiles, jc %d", r2.jc)
  local r5 = schedule.tiling(avx512, "xtg", {K = 784, N = 400, batch = 64})
  check(r5.pack and r5.vecs == 3, "tiling xtg avx512 784x400: ragged 3-vector tiles (vecs %d)", r5.vecs)
  check(schedule.tiling(avx512, "xtg", {K = 784, N = 1024, batch = 64}).vecs == 2, "tiling xtg avx512 784x1024: 2 vectors divide")
  local rn = schedule.tiling(neon, "xtg", {K = 2048, N = 1028, batch = 64})
  check(rn.pack and rn.vecs == 1, "tiling xtg neon 2048x1028: one-vector tiles (pack %s vecs %d)", tostring(rn.pack), rn.vecs)
  local s = {K = 784, N = 200, batch = 64}
  check(schedule.check(avx2, "xtg", s, schedule.tiling(avx2, "xtg", s, {jc = 200})) == nil, "check xtg: jc = N, ragged")
  check(schedule.check(avx2, "xtg", s, schedule.tiling(avx2, "xtg", s, {jc = 100})) ~= nil, "check xtg: jc 100 not whole 16-wide tiles")
  check(schedule.check(avx2, "xtg", s, schedule.tiling(avx2, "xtg", s, {jc = 96})) == nil, "check xtg: jc 96, whole tiles and a rest")
  local s500 = {K = 784, N = 500, batch = 64}
  check(schedule.check(avx2, "xtg", s500, schedule.tiling(avx2, "xtg", s500, {pack = true, jc = 500})) ~= nil,
        "check xtg: pack=yes with N not a whole number of vectors")
end

-- every default tiling is one the tiled kernels (not scalar's) can write: schedule.check
-- (which vets tune files and tune's candidates) accepts the default of each product over a
-- grid of widths, batches and families. (A block rule once gave avx2's packed xtg of
-- 784x1000 B=64 column blocks of 500, not a whole number of 8-wide tiles: the packing loop
-- wrote past its stack buffer.)
do
  local cpus = require "cpus"
  for _, base in ipairs(ISAS) do
    for _, fam in ipairs({"generic", "zen3", "zen4", "zen5"}) do
      local isa = cpus.specialise(base, cpus.FAMILIES[fam])
      for _, K in ipairs({13, 100, 784, 1000, 3072}) do
        for _, N in ipairs({10, 50, 104, 120, 200, 250, 300, 500, 1000, 1024, 1500, 2000, 2048, 4000}) do
          for _, batch in ipairs({8, 32, 64, 100, 128, 256}) do
            for _, product in ipairs({"xw", "gwt", "xtg"}) do
              for _, first in ipairs({true, false}) do
                local s = {K = K, N = N, batch = batch, first = first}
                local problem = schedule.check(isa, product, s, schedule.tiling(isa, product, s))
                check(problem == nil, "%s (%s) default %s tiling of %dx%d B=%d: %s", base.name, fam, product, K, N, batch,
                      tostring(problem))
              end
            end
          end
        end
      end
    end
  end
end

-- schedule.g_density: a max pooling right after a product step bounds the share of its
-- output gradient that can be nonzero (one per window), which convtile's sparse weight
-- gradient relies on; any other next step leaves it at 1
do
  local graph, spec, sched = require "graph", require "spec", require "schedule"
  local d = {}
  for _, s in ipairs(sched.decide(graph.build(spec.load("tests/isa/specs/conv_sparse.lua")), require "isa.avx512").steps) do
    d[#d + 1] = s.g_density
  end
  -- conv 5x13x13 under 3x3/2 pools (36 of 169), pool, conv 3x3x3 under a 3x3/3 pool (1 of 9),
  -- pool, flatten, linear
  check(#d == 6 and d[1] == 36 / 169 and d[2] == 1 and d[3] == 1 / 9 and d[4] == 1 and d[5] == 1 and d[6] == 1,
        "g_density conv_sparse: %s", table.concat(d, " "))
  local lenet = sched.decide(graph.build(spec.load("specs/mnist_cnn.lua")), require "isa.avx2").steps
  check(lenet[1].g_density == 1 / 4 and lenet[3].g_density == 1 / 4 and lenet[#lenet].g_density == 1,
        "g_density mnist_cnn: %s %s %s", lenet[1].g_density, lenet[3].g_density, lenet[#lenet].g_density)
end

-- convtile's sparse dx (the conv input gradient from g's nonzeros) is what test-isa's
-- conv_sparse_dx checks: both of its convs under a pooling take it on avx512 and avx2 (in
-- 2 + 3 and 5 + 10 passes over a pixel's channels), and LeNet's second conv on both; a conv
-- whose g is dense (no pooling after it) keeps the dense forms
do
  local driver = require "driver"
  local function source(spec, isa, cpu)
    for _, f in ipairs(driver.generate({spec = spec, isa = isa, cpu = cpu})) do
      if f[1]:match("%.c$") then return f[2] end
    end
  end
  local function count(c, pat) return select(2, c:gsub(pat, "")) end
  for isa, passes in pairs({avx512 = 5, avx2 = 15}) do
    local c = source("tests/isa/specs/conv_sparse_dx.lua", isa)
    check(count(c, "dx from g's nonzero pixels") == 2 and count(c, "} while %(mm%);") == passes,
          "conv_sparse_dx %s: %d sparse dx layers, %d passes", isa, count(c, "dx from g's nonzero pixels"),
          count(c, "} while %(mm%);"))
    local lenet = source("specs/mnist_cnn.lua", isa)
    local l3 = lenet:match("static void l3_conv2d[%w_]*_backward%(.-\n}\n") or ""
    check(l3:find("float df[", 1, true) and not l3:find("float ta[", 1, true), "mnist_cnn %s: l3's dx not sparse", isa)
    local dense = source("tests/isa/specs/conv_pad.lua", isa)
    check(count(dense, "dx from g's nonzero pixels") == 0, "conv_pad %s: a sparse dx without a pooling after", isa)
  end
  -- the weight of a frame add decides conv_sparse_deep's kernel-3 conv: dense on generic
  -- avx512, sparse for zen4 (test-isa's avx512-zen4 variant runs it)
  local generic, zen4 = source("tests/isa/specs/conv_sparse_deep.lua", "avx512"),
                        source("tests/isa/specs/conv_sparse_deep.lua", "avx512", "zen4")
  generic, zen4 = count(generic, "dx from g's nonzero pixels"), count(zen4, "dx from g's nonzero pixels")
  check(generic == 0 and zen4 == 2, "conv_sparse_deep avx512: %d sparse dx layers generic, %d zen4", generic, zen4)
end

print(string.format("unit: %d checks passed", checks))
return 0
