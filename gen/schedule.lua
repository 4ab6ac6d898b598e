-- The schedule: HOW the graph is computed, every choice in one place (the ops say WHAT).
--   steps      which layers run as one C function: a product layer followed by an
--              activation is one step (the activation fused into the product's epilogue,
--              its derivative fused where the gradient that needs it is written), and so
--              is a batchnorm followed by an activation whose derivative its output gives
--              (MAP_ACT); any other layer (an activation, a "map" such as pooling or
--              flatten) is a step of its own. A product op may bring its own kernels (op.kernels, e.g.
--              conv2d's gen/kernels/conv.lua); the family then writes only the others
--   family     which kernels write the products: "straight" (every multiply-add a
--              statement, scalar only, when the products fit the spec's code_budget),
--              "tiled" (register tiles, for an ISA wider than one float) or "portable"
--              (loops); the modules are gen/kernels/<family>.lua
--   fuse_opt   the optimizer's update applied inside the weight-gradient tiles (a family
--              that can: gen/optim/vector.lua)
--   noinline   step functions kept out of their callers (straight-line code)
--   tiling     the size-dependent choices of the tiled kernels, per product (M.tiling)
-- decide(graph, isa) returns a new table with these; gen/plan.lua lays out memory for
-- the steps and gen/lower.lua turns both into C text.
local names = require "names"
local straight = require "kernels.straight"

local M = {}

local function steps_of(g)
  local steps = {}
  local i = 1
  while i <= #g.layers do
    local node, nxt = g.layers[i], g.layers[i + 1]
    local s = {index = #steps + 1, first = node.index}
    if node.op.role == "product" then
      s.product = node
      if nxt and nxt.op.role == "activation" then s.act = nxt end
    elseif node.op.role == "map" then
      s.map = node
      -- (MAP_ACT) a map that writes its output in one pass of its own (op.fuses_activation:
      -- batchnorm) applies the activation after it there, when that activation's derivative
      -- can be read from its output (plan.mask_from_output: tanh, sigmoid, relu without a
      -- shift), so no value before the activation is kept: one pass over the buffer fewer
      -- each way, and one buffer fewer
      if node.op.fuses_activation and nxt and nxt.op.role == "activation"
          and require("plan").mask_from_output(nxt) then
        s.act = nxt
      end
    else
      s.act = node
    end
    local last = (s.product or s.map) and s.act or node
    s.last, s.in_, s.out = last.index, node.in_, last.out
    local words = {node.kind}
    if (s.product or s.map) and s.act then words[2] = s.act.kind end
    s.fname = names.step(s.first, words)
    steps[#steps + 1] = s
    i = i + #words
  end
  return steps
end

-- The straight-line family when the ISA is one float wide and the products' multiply-adds
-- fit the budget; else tiled for a SIMD ISA, portable loops for scalar.
local function family_of(g, steps, isa)
  local cost = 0
  for _, s in ipairs(steps) do
    if s.product and not s.product.op.kernels then cost = cost + straight.cost(s.in_, s.out) end
  end
  if isa.width == 1 and cost > 0 and cost <= g.code_budget then return "straight", cost end
  return isa.width > 1 and "tiled" or "portable", cost
end

-- Tiling: every size-dependent choice of gen/kernels/tiled.lua, per product, from the
-- sizes the generator knows. tiling(isa, product, s, over) -> a new table, s = {K =
-- inputs, N = outputs, batch = most rows (nil: any)}; `over` (optional) replaces fields
-- (a tune file's, gen/tune.lua; xw's defaults follow a given order, pack or mc: xw_given). None of these change the results: every output is summed
-- in the same order whatever the tiles, so a choice changes speed, not bits (the batch-1
-- stream's kind and sets, below, do change the order).
--   xw  (y = x·W):  vecs   most vectors per register tile row (blocks of vectors as even
--                          as possible); default the ISA's vec_max, up to 12 when a small
--                          batch leaves accumulator registers free, one or two more when
--                          M.xw_cost says fewer rows per tile cover the batch better
--                   order  "rows": row tiles outer, all of W streamed per row tile (small
--                          layers: x stays in L1); "columns": column blocks outer, each
--                          K x block panel of W reused by every row tile; "depth": k-blocks
--                          outer, every column block of a kc-row slab of W in turn (big W
--                          read by few row tiles: W read once, rows in order; unpacked;
--                          packed where x passes the L2: M.xw_depth)
--                   pack   copy each panel into an aligned contiguous stack buffer first;
--                          default on when W is larger than a quarter of the ISA's usual L2
--                          (L2_BYTES) and at least 4 row tiles read each panel (else column
--                          blocks outer, unpacked), or its row stride is a multiple of 4 KB (a strided
--                          panel then maps into few cache sets); not at batch 1 (W is read
--                          once)
--                   kc     inputs per packed panel (the panel at most PANEL_BYTES, huge
--                          layers PANEL_BYTES_X; the
--                          reduction over k is blocked when K > kc, the partial sums kept in y)
--                   mc     rows of x packed per block with the panels (0: x not packed;
--                          default: huge layers, below, of the families in XW_HUGE_PACK_X): kc
--                          inputs of mc rows copied, row tile by row tile, k-major, so a tile's
--                          broadcasts read one contiguous stream instead of R rows a whole row
--                          stride apart (one cache set when the stride is a multiple of 4 KB);
--                          the block of x at most XW_X_BYTES (stays in L2 while every panel of
--                          the kc block passes; blocks of whole tiles as even as possible; on
--                          avx2 kc is cut so the block and the panel fit the L1, XW_X_L1);
--                          loops kc block, mc block, column block
--                   fill   (packed panels) "loop": a copy loop fills each panel before
--                          its row tiles; "tile": the first row tile reads W itself and
--                          stores what it loaded into the panel, so the copy rides along
--                          with its FMAs instead of a pass of loads and stores that waits on
--                          W from L3 (the other tiles then read the panel; a batch below one
--                          tile uses the loop). Default tile on avx2 (XW_FILL_TILE: Zen 3,
--                          784x256 B=64 forward 284 -> 273 us, CPU time, fastest of 1000
--                          calls in the step; x packed too, 784-1024-10 B=64 forward 1.27 ->
--                          1.24 ms), loop elsewhere (not measured there)
--                   pf     (x packed) each tile's k loop prefetches the same row of the
--                          next column block's panel, one hint per cache line, so the panel
--                          copy finds its lines (a panel row per 4 KB page: the prefetcher
--                          does not follow them); default on x-packed layers of the
--                          families in PREFETCH
--   gwt (dx = g·Wᵀ): form   "wt": row tiles of g against a transposed block of W (the keys
--                          below); "gt": tiles of rows of W against g transposed once (into
--                          dW's memory, written after), no transposes of W (gwt_form)
--                   vecs  inputs per register tile, in vectors (default vec_max)
--                   rows   most rows per tile
--                   jc     outputs per transposed block of W (the block at most WT_BYTES;
--                          the reduction over j is blocked when N > jc, partial sums in dx)
--   xtg (dW = xᵀ·g): vecs  as for xw
--                   pack   copy g into an aligned stack buffer, jc columns x nc rows at a
--                          time, each tile's columns contiguous (N a whole number of tiles);
--                          default on where xw packs W (a big layer: g's tile columns are
--                          strided, and the k-outer loop reads all of g per R inputs)
--                   jc     columns of g per packed block (default: the block at most
--                          XTG_G_BYTES, so it stays in L1 across the R-input tiles; huge
--                          layers XTG_G_BYTES_XQ, in L2)
--                   xq     (packed g; default: huge layers) each tile's R inputs of x copied
--                          row-major for all the block's columns first
--                   nc     rows per packed block; a batch larger than nc blocks the
--                          reduction over the rows (partial sums in dW, XTG_ROWS)
--                   rows   most inputs per tile (default: the ISA's max_rows, or fewer when
--                          that folds the tail columns into the tiles, gen/kernels/tiled.lua)
--                   pf     (packed g) each tile prefetches its lines of dW when it starts,
--                          and with the update in the tiles stores dW after the update
--                          (W's lines, prefetched too, share an L1 set with dW's when the
--                          row stride is a multiple of 4 KB, and were evicted first);
--                          default with xq, in the families of PREFETCH
--                   update the fused optimizer "tiles" (inside each tile, while dW is in
--                          registers) or "after" (one pass over W once dW is stored);
--                          default after when unpacked and W and dW fit L2 together
--                          (avx2; XTG_UPDATE_AFTER)
--                   gq     (unpacked, not a tune key) g's whole-vector columns copied into an
--                          aligned stack buffer, so the tiles' loads of g never split a cache
--                          line (rows of N floats, N not a multiple of the width), and the
--                          tile that carries the folded tail prefetches each row's next line
--                          of x; default where the copy fits XTG_G_BYTES and K is at least
--                          XTG_G_COPY_K (XTG_G_COPY)
--
-- Defaults per ISA, when no tune file (`gen --tune FILE`, `chainrule tune`) says otherwise;
-- a CPU family (gen --cpu, gen/cpus.lua) replaces the entries of these tables it measured
-- better (M.pick). Without one, each ISA's defaults suit its usual families:
--   avx2    Zen 2/3/4 and Intel Haswell..Alder Lake: 2 x 256-bit FMA, L2 512 KB (Zen) to
--           1.25 MB; pack W when it is above a quarter of 512 KB
--   avx512  Intel Xeon (Skylake-SP..Sapphire Rapids, 2 x 512-bit FMA, L2 1-2 MB) and Zen 4:
--           measured on a Xeon (issue 12), packing cost 8-12 % at width 256 (784x256: W is
--           784 KB) and paid off at >= 1024: pack above half of the 2 MB L2, so not at 256
--           (checked again: PACK_SHARE 4 made 784-256-10's train_step_scratch slower at
--           B=8/32/256 by +3.7/+9.2/+6.5 % fastest, 784-256-256-10 B=64 +0.8 %)
--   neon    Arm cores (Cortex-A7x, Neoverse N1/V1, Apple M): L2 1 MB; quarter, as avx2
--   sse2    any x86-64, for those without AVX2 + FMA (Core 2..Ivy Bridge, Atom/Celeron/Pentium
--           to Goldmont Plus, AMD K8..Bulldozer): L2 256 KB to 2 MB, assumed 512 KB; quarter,
--           as avx2. Measured only on Zen 4 (the only machine at hand: tile shapes below)
-- PACK_SHARE[isa]: pack when W is larger than L2_BYTES / PACK_SHARE (or its row stride is
-- a multiple of 4 KB).
-- Family-independent (every family above has 2 FMA pipes of latency 4, M.IN_FLIGHT): the
-- tile width by the row-tile cost model (M.xw_cost) and no packing for fewer than 4 row
-- tiles. `chainrule tune` on Zen 3 chose both for 784x256 B=8 (1.34x on that product);
-- measured there, whole 784-256-10 B=8 step 141 -> 126 us (fastest of 20 alternated runs).
-- pick(isa, TABLE): the default M[TABLE][isa.name], or the CPU family's own value where
-- isa carries a family (gen/cpus.lua, gen --cpu) whose entry names TABLE and the ISA.
function M.pick(isa, key)
  local own = isa.cpu and isa.cpu.defaults[key]
  if own and own[isa.name] ~= nil then return own[isa.name] end
  return M[key][isa.name]
end
M.L2_BYTES = {sse2 = 512 * 1024, avx2 = 512 * 1024, avx512 = 2048 * 1024, neon = 1024 * 1024}
-- the family's L2 in bytes (512 KB for an ISA the table does not name)
local function l2(isa) return M.pick(isa, "L2_BYTES") or 512 * 1024 end
M.PACK_SHARE = {sse2 = 4, avx2 = 4, avx512 = 2, neon = 4}
-- Output vectors per step of the batch-1 rows stream (gen/kernels/stream.lua), each one
-- chain of `rows` dependent FMAs; the sums keep their order whatever the count (the bits do
-- not change). A tune key (`vecs`, tried 1, 2, 4); the default stays 1 on every ISA: on Zen 5
-- (784x2048 + 2048x2048, 23 MB, memory-bound) a stand-alone loop ran 2 vectors 1.01-1.06x
-- faster than 1 in most back-to-back pairs, but the generated forward, 6 alternated pairs of
-- fresh processes per ISA, moved 0.6-1.7x either way with the VM's phases: not shown.
M.STREAM_VECS = {}

-- The rows of g gwt's form "gt" transposes: the batch rounded up to whole slices.
function M.gwt_gt_rows(isa, batch)
  local L = M.GWT_GT_VECS * isa.width
  return (batch + L - 1) // L * L
end

-- Why gwt's form "gt" cannot be written for sizes s, or nil: it needs the ISA's square
-- transpose of one vector, a batch, and dW at least as large as g transposed.
function M.gwt_gt_problem(isa, s)
  if not (isa.transpose and isa.transpose_n == isa.width) then return "form=gt needs a square transpose of one vector (" .. isa.name .. " has none)" end
  if not s.batch then return "form=gt needs the batch" end
  local rows = M.gwt_gt_rows(isa, s.batch)
  if s.K < rows then return string.format("form=gt: K=%d below the %d rows of g it transposes into dW", s.K, rows) end
  return nil
end

-- gwt's default form: "gt" where W is more than GWT_GT_L2 x the L2 (families of
-- GWT_GT_DEFAULT) and it can be written.
function M.gwt_form(isa, s)
  if M.pick(isa, "GWT_GT_DEFAULT") and 4 * s.K * s.N > M.GWT_GT_L2 * l2(isa) and not M.gwt_gt_problem(isa, s) then
    return "gt"
  end
  if M.pick(isa, "GWT_GT_FEWER") and not s.first and s.batch and s.batch % (M.GWT_GT_VECS * isa.width) == 0
     and 2 * s.batch * (s.K + s.N) <= s.K * s.N and not M.gwt_gt_problem(isa, s) then
    return "gt"
  end
  return "wt"
end

-- gt's block of inputs: GWT_GT_KB or more, a multiple of rows R and of the transpose.
function M.gwt_gt_kb(isa, R)
  local a, b = R, isa.transpose_n
  while b ~= 0 do a, b = b, a % b end
  local lcm = R * isa.transpose_n // a
  return (M.GWT_GT_KB + lcm - 1) // lcm * lcm
end
M.PANEL_BYTES = 32 * 1024
M.WT_BYTES = 32 * 1024
-- gwt's form "gt" (gen/kernels/tiled.lua's gwt_gt): its tiles are rows of W x GWT_GT_VECS
-- vectors of batch rows; a slice of g transposed, GWT_GT_SLICE_BYTES, stays in L1 across
-- the tiles of a block of inputs (GWT_GT_KB or more: a multiple of the tile's rows and of
-- the transpose). The default where W is more than GWT_GT_L2 x the L2: there the copies of
-- W cost the most. Zen 3, 784-2048-2048-10 B=64 train step (W 16 MB), gt against wt, 80
-- alternated rounds of 2 steps: -2.6 % fastest, 10th percentile and median (the 2048x2048
-- input gradient alone 6.7 -> 6.1 ms); 784-256-256-10 (W 256 KB): +0.5..2.4 %, so not there.
M.GWT_GT_VECS = 2
M.GWT_GT_SLICE_BYTES = 16 * 1024
M.GWT_GT_KB = 48
M.GWT_GT_L2 = 8
-- (measured on avx2 only: the other families keep "wt" unless a tune file says otherwise;
-- on avx512 with its 2 MB L2 the rule would need W above 16 MB, no bench spec has one)
M.GWT_GT_DEFAULT = {avx2 = true}
-- Families where "gt" is also the default wherever it transposes at most half the floats
-- "wt" does: g in and dx out, batch x (K + N), against W's K x N, the batch in whole slices
-- (no rows of zeros computed). On avx512 Intel cores the 16x16 transposes are 64 shuffles
-- on port 5, the second FMA port, so every transposed float costs FMA time, whatever the
-- layer's size against the L2; Zen 4 runs shuffles and FMAs on partly shared pipes too. Relies on no
-- cache size beyond the form's own: the 16 KB slice of g transposed in L1 (GWT_GT_SLICE_BYTES,
-- fits the 32 KB L1d of Zen 4) and g transposed (batch x N floats, 64 KB at 256 B=64) in dW's
-- memory, within a 1 MB L2. Not on the first layer (s.first, gen/kernels/layer.lua): the
-- steps skip its dx, and gt's use of dW's memory would cost NAME_train_step_scratch its copy
-- of that layer's weight gradient with the update in the tiles (XTG_SCRATCH_TILES).
-- Measured on the Xeon (thread CPU time of train_step_scratch, alternated processes, load
-- 6-9): 784-256-256-10 B=64 (256x256: exactly half) its layer-2 backward -4 % (fastest,
-- median of 10th percentiles and of medians, 20 rounds); 784-2048-2048-10 B=64 step
-- 15282 -> 14952 us fastest, -4 % median (12 rounds). At 2/3 (LeNet's 400x120 at B=64) the
-- step was +0.8 and +2.5 % fastest in two runs of 20 rounds (noise, or gt's 2-vector tiles
-- and the round trip of dx through dt costing what the fewer transposes save): not there.
M.GWT_GT_FEWER = {avx512 = true}
-- Families whose weight gradient keeps the update in its tiles (not XTG_UPDATE_AFTER's pass)
-- where the layer's input gradient takes gt by GWT_GT_FEWER (tiling's xtg). Measured on the
-- Xeon, 784-256-256-10 B=64 (the 256x256 layer), train_step_scratch, thread CPU time, 30
-- alternated rounds of 200 steps, load 5 (A/A within 0.3 %): fastest 485.9/486.1 -> 478.9
-- us, median of 10th percentiles -1.7 %, median of medians -1.7 %. Relies on no cache size:
-- what goes is one store and one read-back of dW (256 KB at 256x256) per step.
-- Both rules together against the base, the same measure, 40 rounds, load 4, A/A 0.3-0.7 %:
-- fastest 506.1/507.8 -> 496.9 us, median of p10 533.7/536.0 -> 524.9, median of medians
-- 554.8/558.6 -> 549.1; the step's 10th percentile against an FMA-peak loop timed in the
-- same round, median over the rounds, 87.6 -> 89.2 % of peak.
-- The tiling is shared by NAME_train_step (which stores dW, keep = 1) and NAME_backward (+
-- NAME_step): neutral there. Xeon, 784-256-256-10 B=64, thread CPU time per step, alternated
-- processes (each the fastest of 5 rounds of 200 steps), 60 rounds, load 1-3.4, rule on /
-- A/A copy / off: train_step fastest 532.9/533.0/538.9 us, p10 552.3/549.1/551.2, median
-- 565.5/563.0/564.9 (paired median on/off +0.1 %, A/A +0.6 %); forward + backward + step
-- (25 rounds) 561.0/562.2/563.1, p10 562.6/564.5/563.8, median 570.7/571.2/569.8 (on/off
-- +0.5 %, A/A 0.0 %); train_step_scratch, the control, paired median on/off -1.6 % (A/A
-- -0.1 %), median 508.1/507.9/516.9. So NAME_train_step keeps the tiles too (no own tiling).
M.XTG_TILES_UNDER_GT = {avx512 = true}
M.XTG_G_BYTES = 16 * 1024
M.XTG_ROWS = 64
-- Packed xtg at a batch above XTG_ROWS blocks the reduction over the rows, its partial sums
-- kept in dW between the blocks. With dW past the L2 they go out to L3 and back: there all
-- the rows go in one pass (nc = batch, g blocks of fewer columns) wherever one tile's width
-- of g over every row fits the g block. Zen 5 (avx512, clang -O2, train_step_scratch,
-- fastest of 15 rounds, alternated processes): 3072-256-10 B=128 (dW 3 MB) 2100-2208 ->
-- 1991-2006 us with g in blocks of 32 columns x 128 rows (64 x 128, 32 KB: 2032-2050).
-- Off on avx2: there it fires on 784x256 B=256 (dW 800 KB against avx2's 512 KB L2) with
-- strips of one 16-column tile, and that step measured 1887-1923 -> 1922-1933 us on the
-- same Zen 5 (its L2 is 1 MB); neon unmeasured.
M.XTG_WHOLE_ROWS = {avx512 = true}
-- ISAs whose packed xtg keeps the default tile width where no tile of two or more vectors
-- divides N (N a whole number of vectors), the last block of g ending in a narrower tile,
-- instead of one-vector tiles (one broadcast per FMA). Zen 5, clang -O2, train_step_scratch,
-- fastest of 21 rounds, 4 alternated fresh processes each, us: avx2 784-1000-10 B=64
-- 2198-2201 -> 1840-1847, 784-200-200-200-10 752-756 -> 671-672, 784-1000-500-10 B=128
-- 7803-8045 -> 7378-7433, 784-120-10 257-259 -> 226-227, LeNet-5 (its 400x120) 1537-1542 ->
-- 1526-1535; avx512 784-400-10 432-473 -> 394-410, 784-560-10 593-660 -> 550-576,
-- 784-400-400-10 B=128 1415-1444 -> 1353-1385. The same bits (the rows sum in order).
-- (neon: unmeasured, off; its lane-indexed FMAs broadcast for free. A tune file's
-- pack=yes takes a ragged block on every ISA.)
M.XTG_RAGGED = {avx2 = true, avx512 = true}
-- Huge layers (W more than HUGE_L2 x the L2: 784x1024 and wider on avx2) pack x too, in
-- xw (mc rows, the block at most XW_X_BYTES) and in xtg (each tile's inputs, xq), with
-- smaller panels of W (PANEL_BYTES_X: half of a 32 KB L1, so the panel stays there while
-- the packed x streams past) and bigger blocks of g (XTG_G_BYTES_XQ: in L2, since the tile's
-- x no longer needs L1; XTG_G_BYTES_X bounds xtg_rows_whole's blocks). Measured on Zen 3
-- (CPU time per call, fastest of 4 alternated runs, load 10-12): 784-2048-2048-10 B=64 forward 16.0 -> 12.6 ms, train 44.9 -> 34.9 ms. Below
-- that size it cost: 784-50-10 train B=64 126 -> 145 us, 784-256-256-10 1064 -> 1116 us.
M.HUGE_L2 = 2
M.PANEL_BYTES_X = 16 * 1024
M.XW_X_BYTES = 64 * 1024
M.XTG_G_BYTES_X = 64 * 1024
-- The block of g of a huge layer's weight gradient (xq): 128 KB, a quarter of Zen 3's L2, so
-- its tiles continue each row of W and dW for 512 columns (2 KB) at 64 rows instead of 1 KB.
-- Measured on Zen 3 (784-2048-2048-10 B=64, thread CPU time, alternated runs, load 3-4):
-- layer 2's backward 0.94x; 1024 columns (256 KB) no better than 512.
M.XTG_G_BYTES_XQ = 128 * 1024
-- Families whose huge layers prefetch (tiling pf of xw and xtg). Measured on Zen 3 (avx2;
-- CPU time per call, fastest of 30, load ~3): xw's next panel, 784-1024-10 forward B=64
-- 1.43 -> 1.33 ms, 784-2048-2048-10 11.2 -> 9.7 ms (the panel copy's loads fell from 15-21 %
-- of the cycles to 4 %); xtg's dW lines and late stores, 784-1024-10 train 2.96 -> 2.76 ms
-- (storing no dW at all: 2.6 ms). On a Xeon (avx512, 2 MB L2; with XW_FILL_TILE, thread CPU
-- time of train_step_scratch, alternated processes, load 4-6): 784-2048-2048-10 B=64 (the
-- only bench spec with a huge layer there) -5.3 % fastest, -4.6 % 10th percentile (32 rounds).
M.PREFETCH = {avx2 = true, avx512 = true}
local function prefetches(isa) return isa.prefetch ~= nil and M.pick(isa, "PREFETCH") == true end

-- W [K][N] more than HUGE_L2 x the ISA family's L2 (the layers that pack x as well).
function M.huge(isa, s)
  return 4 * s.K * s.N > M.HUGE_L2 * l2(isa)
end
-- Families whose huge layers' xw packs x (mc) with the smaller panels (PANEL_BYTES_X);
-- without, a huge xw is tiled as a big one (x unpacked, PANEL_BYTES panels, so the spread
-- prefetches fit: XW_SPREAD). The weight gradient's xq follows M.huge either way.
M.XW_HUGE_PACK_X = {avx2 = true, avx512 = true, neon = true}
local function xw_packs_x(isa, s) return M.huge(isa, s) and M.pick(isa, "XW_HUGE_PACK_X") == true end

-- ISAs whose unpacked weight gradient applies the optimizer after its tiles by default
-- when W and dW fit L2 (measured on Zen 3; see tiling's xtg update). On a Xeon (avx512, 2 MB
-- L2), with XTG_SCRATCH_TILES, train_step_scratch, fastest / 10th percentile / median of 80
-- alternated rounds (load 5-6): 784-256-10 B=1 -5.9/-6.1/-6.4 %, B=8 -10.4/-9.5/-9.4 %,
-- B=32 -2.7/-4.2/-3.4 %, B=256 -0.6/-1.3/-0.8 %; 784-50-10 B=64 -1.9/-1.5/-1.9 %;
-- 784-1024-10 -0.5/-1.2/-1.3 %; 784-256-256-10 +1.7/-8.0/-1.6 %; 784-2048-2048-10 (its
-- 2048x10 layer only) +5.3/+2.0/-1.5 % (32 rounds of one 16 ms step: noise)
M.XTG_UPDATE_AFTER = {avx2 = true, avx512 = true}
-- ISAs whose NAME_train_step_scratch, where a weight gradient's update runs after the tiles
-- (XTG_UPDATE_AFTER), calls a second backward with the update inside the tiles and no dW
-- stored (dw NULL): after the tiles the update reads dW back, which the scratch step need
-- not keep. NAME_train_step keeps update=after (it stores dW anyway). The first layer only
-- (gen/kernels/layer.lua): the scratch step wants no dx there, so the extra function is that
-- weight gradient alone (784-50-10 avx2: +8.7 KB of C). Measured on Zen 3 (784-50-10 B=64,
-- clang -O2, thread CPU time of train_step_scratch, rounds of 10 steps, 300 alternated
-- process pairs of 20 rounds, load 2-3): fastest -2.2 %, 10th percentile -2.6 %, median
-- -2.4 % (111.6 -> 109.2 us).
M.XTG_SCRATCH_TILES = {avx2 = true, avx512 = true}

-- The weight gradient's tiling for NAME_train_step_scratch's own backward, derived from the
-- step's tiling t (XTG_SCRATCH_TILES), or nil: the scratch step calls the same backward.
function M.scratch_tiling(isa, t)
  if t.update ~= "after" or not M.pick(isa, "XTG_SCRATCH_TILES") then return nil end
  local st = {}
  for k, v in pairs(t) do st[k] = v end
  st.update = "tiles"
  return st
end

-- ISAs whose weight gradient behind a ReLU (s.relu_g: gen/kernels/layer.lua, g zero wherever
-- the unit was off) is summed over g's nonzeros alone when at most XTG_SPARSE_DENSITY of g is
-- nonzero, the tiles otherwise (gen/kernels/tiled.lua xtg_sparse; tiling key sparse, which a
-- tune file may set either way for any layer, and chainrule tune times both ways). The same
-- bits as the tiles. No ISA by default: it pays where one 512-bit FMA issues a cycle (Zen 4,
-- gen/cpus.lua zen4 turns it on), not where two do, whose tiles run twice as fast while the
-- form's lists, transposes and a load per FMA do not (Zen 5, EPYC family 26 model 2, the train
-- step with the form against the tiles, alternated in one process, 2026-12-07: 784-256-10 B=32
-- 1.05-1.20x the tiles' time, B=64 0.99-1.12x, 784-256-256-10 1.07-1.09x (chainrule tune's
-- paired medians), 784-50-10 B=64 0.96-1.06x: noise at best), unless g is sparser than that
-- (zen5 turns it on below 1/3: cpus.lua). A prototype on Zen 4
-- (docs/PERFORMANCE.md, 2026-12-07): layer 0's weight gradient with its update, B=64, density
-- 0.48 on 784x50: 47.6 -> 34.7 us; 0.51 on 784x256: 243 -> 195 us; 0.35: 154 us, 0.2: 112 us;
-- about 11 us fixed (lists, transposes, the update) + 55 us x density on 784x50, so the tiles
-- win from about 2/3. avx512 only: its compress and gather (avx2 would need convtile.lua's
-- lpack tables and 8x8 transposes).
-- By default only where it was measured to pay (xtg_sparse_pays): batches XTG_SPARSE_BATCH
-- (the train step, sparse / tiles, density ~0.5: 784-50-10 B=16 0.86, 32 0.90, 64 0.83, 128
-- 1.02, 256 1.10; 784-256-10 B=16 0.93, 32 0.86, 64 0.87: at B=128 x's slab of 7 vectors
-- passes the L1), at least one whole block of inputs (16-32-10 B=64: 4.8 against 3.9 us),
-- and W within XTG_SPARSE_W_BYTES (the form walks W and dW in strips of 16 columns: 784-1024-10
-- B=8 668 against 349 us, B=16 851 against 596, its rows 4 KB apart; 784-512-10, 1.6 MB of W
-- past Zen 4's 1 MB L2, B=16 320 against 269 us, B=32 506 against 503; a 2 MB L2 not measured).
M.XTG_SPARSE = {}
M.XTG_SPARSE_DENSITY = {avx512 = {3, 5}}   -- at most 3/5 of g nonzero (a family may lower it)
M.XTG_SPARSE_KB = 7             -- vectors of inputs per block: x's slab of B rows stays in L1 at B=64
M.XTG_SPARSE_BYTES = 128 * 1024 -- the lists on the stack (xtg_sparse_bytes)
M.XTG_SPARSE_BATCH = {16, 64}
M.XTG_SPARSE_W_BYTES = 1024 * 1024
-- The form's density limit on isa (its CPU family's): {numerator, denominator}
function M.xtg_sparse_density(isa)
  return M.pick(isa, "XTG_SPARSE_DENSITY")
end
-- The form's lists hold g's nonzeros one column after another, as many as the densest step
-- it runs (XTG_SPARSE_DENSITY of the batch's g: a denser step runs the tiles) and a vector
-- (the last compressed store writes a whole one): entries of a value and an offset, 8 bytes
-- each, and two ints per column (count and start)
function M.xtg_sparse_entries(isa, s)
  local den = M.xtg_sparse_density(isa)
  return den[1] * s.N * s.batch // den[2] + isa.width
end
function M.xtg_sparse_bytes(isa, s)
  return 8 * M.xtg_sparse_entries(isa, s) + 8 * s.N
end
-- Where the form's code can be written, whatever the family (avx512, a known batch, K whole
-- vectors), and where it can run: its lists within XTG_SPARSE_BYTES at isa's density limit,
-- which the CPU family may lower (a tune file may ask for it there)
local function xtg_sparse_can(isa, s)
  return isa.name == "avx512" and s.batch ~= nil and s.K % isa.width == 0
end
function M.xtg_sparse_fits(isa, s)
  return xtg_sparse_can(isa, s) and M.xtg_sparse_bytes(isa, s) <= M.XTG_SPARSE_BYTES
end
local function sparse_too_big(isa, s)
  return string.format("sparse=yes: the lists of g's nonzeros at the density limit (%d/%d of g%s) take %d bytes,"
    .. " more than the %d the form may put on the stack", M.xtg_sparse_density(isa)[1],
    M.xtg_sparse_density(isa)[2], isa.cpu and isa.cpu.name ~= "generic" and ", cpu " .. isa.cpu.name or "",
    M.xtg_sparse_bytes(isa, s), M.XTG_SPARSE_BYTES)
end
-- Where it is the default behind a ReLU
function M.xtg_sparse_pays(isa, s)
  return M.xtg_sparse_fits(isa, s) and s.batch >= M.XTG_SPARSE_BATCH[1] and s.batch <= M.XTG_SPARSE_BATCH[2]
    and s.K >= M.XTG_SPARSE_KB * isa.width and 4 * s.K * s.N <= M.XTG_SPARSE_W_BYTES
end
-- Whether a weight gradient of sizes s (s.relu_g: behind a ReLU) takes the form by default on
-- isa (its CPU family's XTG_SPARSE); chainrule tune times the other choice where it fits
function M.xtg_sparse_default(isa, s)
  return M.pick(isa, "XTG_SPARSE") == true and s.relu_g == true and M.xtg_sparse_pays(isa, s)
end

-- ISAs whose unpacked weight gradient copies g to aligned rows and prefetches x (tiling's gq),
-- when N is not a multiple of the width and the copy fits XTG_G_BYTES. The tiles' rows of x
-- are K floats apart, one line each, a new line every 16 inputs: the hardware prefetcher
-- does not follow 64 such streams, so the first tile of each R-input block asks for the next
-- line of its rows. Measured on Zen 3 (784-50-10 B=64, clang -O2, thread CPU time, the train
-- step, alternated rounds of 10 steps, load 6-11): 115.7 -> 113.8 us fastest, 10th percentile
-- -1.7 %, median -2.4 % (400 rounds); 115.5 -> 113.2, -2.8 %, -3.3 % (600 rounds); layer 0's
-- backward with the update 56.1-56.5 -> 54.7 us (rdtsc, fastest of 750). In hand-edited
-- copies (400 rounds, load 1.5): the copy alone -0.3 %, the prefetch alone (loads of g still
-- split across lines) +2 % against the copy alone; prefetching 2 or 4 lines ahead +1.4 / +3.9 %.
-- The copy is repaid only when the tiles read g often (K / R times): not below XTG_G_COPY_K
-- inputs (784-50-10's 50x10 layer, backward alone 2.40 -> 2.48 us with it).
-- On a Xeon (avx512) it fired in 784-50-10 B=64 only: -0.6/-0.7/-0.1 % (fastest / 10th
-- percentile / median, 160 alternated rounds, load 4): noise, so off there.
M.XTG_G_COPY = {avx2 = true}
M.XTG_G_COPY_K = 64
-- Families whose unpacked weight gradient prefetches, in each tile's loop over the rows i,
-- row i + XTG_G_AHEAD of g (every line of the tile's columns) and of x (the line of the
-- tile's inputs; tiling gpf, not a tune key): where g is larger than the L1 (L1_BYTES),
-- every tile (k-blocks outer) streams its columns of g from L2 at g's row stride and x at
-- x's (a line or more of each per row, a row every 12 cycles at 784x256 B=256 on avx512),
-- and the hardware prefetchers, which do not cross 4 KB pages, leave the tile waiting on L2.
-- Measured on a Xeon (avx512, 2 MB L2, 48 KB L1d; 784-256-10 B=256, thread CPU time of
-- train_step_scratch, 100 alternated rounds of 5 steps, load 4): -3.9 % fastest, -2.8 %
-- 10th percentile and median; 4 rows ahead -5.6/-3.8/-3.4 %, 8 rows -4.7/-4.8/-2.5 %, 16 rows
-- -4.2/-3.1/-2.3 % in hand-edited copies (60 rounds); a clamped row index (i + 4 < n ? ..)
-- only -1.7/-1.3/-1.3 %: the prefetch addresses are integers instead, so rows past the last
-- need no test. Not measured on avx2 (Zen 3's L2 prefetcher may already follow these).
M.XTG_G_AHEAD = {avx512 = 4}
-- Families whose unpacked weight gradient reads the tile's R inputs of x through a pointer to
-- row i of x at k0, declared once per row (xk[r]), instead of the index x[i * K + k0 + r]
-- per broadcast, which clang -O2 computes as a mov and an or per input (k0 a multiple of
-- R): 784x50 B=64 on avx512, 14 of the loop's ~58 instructions per row of g. The same
-- loads, FMAs and order (the same bits); fewer instructions to issue, which is what this
-- VM's slow phases (an SMT sibling sharing the front end, it seems: a register-only FMA
-- loop keeps its speed there, a loop of loads and FMAs from L1 runs 30-80 % slower) charge
-- for. Measured on the Xeon (model 207, KVM, load 5-6; train_step_scratch, samples of 10
-- steps of each build interleaved in one process (A/A within 0.3 %), median ratio per bin of
-- how slow the sample was against the fastest): 784-50-10 B=64, 3000 samples, -0.5 % where
-- within 1.2x of the fastest, -2 to -3.5 % in slower ones; 784-256-256-10 -0.9..-2.4 %;
-- 784-1024-10 within the A/A noise. One process per build, alternated, 40 rounds of 100
-- samples: 784-50-10 min 65.5 -> 65.2 us, median of the medians 73.0 -> 71.4 us, p10
-- 69.4 -> 69.8 (the A/A copy 69.0). On avx2 clang -O2 makes no mov/or of these indices
-- (R = 4, 6: base + index addressing), but with xk it unrolls 784-50-10's 4x2 tile loop by
-- two: 17 instructions besides the 16 FMAs of two rows, not 20. Measured on the Xeon (avx2
-- code, no cache size involved; train_step_scratch, 150 alternated rounds of one process per
-- build, each 30 samples of 10 steps, load 3-5): 784-50-10 B=64 fastest 123.9 -> 123.8 us,
-- p10 129.7 -> 128.5, median of the medians 135.1 -> 132.7, paired median ratio 0.990 (the
-- A/A copy 1.001); 784-256-256-10 (fires in its 256x10 layer only) within the A/A noise.
-- neon's tiles (clang, aarch64) load x through one pointer already: not there.
M.XTG_X_ROW = {avx512 = true, avx2 = true}
-- Families whose fused update of the folded weight-gradient tail (a 784x50-like layer's
-- last columns, one vector of R rows x tail columns per tile) moves the weights and states
-- with one vector gather and one scatter (the ISA's gather/scatter) instead of V scalar
-- copies each way into a stack vector, which the update then reloaded as a vector: a
-- store-forwarding stall per tile. The same values (bits identical). Measured on the Xeon
-- (784-50-10 B=64 train_step_scratch, 2500 in-process interleaved samples of 10 steps):
-- the layer's backward 33.4 -> 32.8 us, the step -0.8..-1.0 % within 1.1x of the fastest
-- samples, -1..-2 % in slower ones. avx2 has gathers but no scatter: not there.
M.XTG_GATHER = {avx512 = true}
-- Families whose weight gradient of a layer narrower than one vector (N < width: a 256x10
-- head on avx512) runs as tiles of inputs k as vectors x the N columns, reduced over the
-- rows (gen/kernels/tiled.lua's tail_pass for all N columns), instead of R inputs x one
-- masked vector, which uses N of the width's lanes in every FMA and broadcasts an input
-- per FMA. Each dW element is the same chain of FMAs over the rows (the same bits); what
-- the narrow form adds is the copy of each block of dW out of its transposed stack block
-- (N x the block's inputs, scalar stores), repaid over the rows: per input, the masked
-- tiles cost about B/2 cycles and the narrow ones B N/(2 W) + N/2, so it fires where
-- B (W - N) >= 2 N W (twice the break-even: B >= 54 for 10 columns of 16 lanes).
-- Relies on no cache size (its stack block is N x 32 floats at most per 16-lane vector
-- pair). Measured on the Xeon (avx512, clang -O2, thread CPU time, alternated processes,
-- load 5-8): 784-256-10 B=256, the 256x10 layer's backward in the step 42.2/46.5 ->
-- 33.1/35.9 us (fastest / median of 10th percentiles, 12 rounds); train_step_scratch, 40
-- rounds of 20 samples, median of the paired median ratios (A/A within 1 %): 784-256-10
-- B=256 -1.3 %, 784-50-1 (seed, N = 1) -1.1 %, 784-1024-10 -0.6 %, 784-50-10 -0.4 %,
-- 784-256-256-10 -0.4 %, LeNet -0.1 %. avx2 (N < 8: only a layer of fewer than 8 outputs)
-- and neon not measured: off there.
M.XTG_NARROW = {avx512 = true}
function M.xtg_narrow(isa, s)
  local W = isa.width
  return M.pick(isa, "XTG_NARROW") == true and s.batch ~= nil and s.N < W
    and s.batch * (W - s.N) >= 2 * s.N * W
end
-- the L1 data cache the families above share at least (Skylake-SP..Ice Lake 32 KB, Sapphire
-- Rapids 48 KB, Zen 32 KB)
M.L1_BYTES = 32 * 1024
-- ISAs whose packed xw panels are filled by the first row tile by default (tiling's fill).
-- On a Xeon (avx512, with PREFETCH; train_step_scratch, fastest / 10th percentile / median,
-- alternated, load 4): 784-1024-10 B=64 -2.1/-2.6/-1.7 % (80 rounds), 784-2048-2048-10
-- -2.3/-2.5/-3.2 % (32 rounds); without PREFETCH the latter was +3.8/+4.8/+3.4 %.
M.XW_FILL_TILE = {avx2 = true, avx512 = true}
-- Families whose xw tiles (fill=tile, x not packed) prefetch the next panel's rows of W, one
-- row every XW_SPREAD k steps of the row tiles after the filling one (tiling spread), so the
-- next fill finds W in the caches. Only where W is read from L3 (larger than the L2) and
-- the batch makes at most SPREAD_TILES row tiles (the filling tile a large share): at
-- 784x256 B=32 on Zen 3 the filling tile's loop took 2.3x a panel tile's time (11 % of the
-- step); with spread the whole step ran 1.3-1.6 % faster (fastest), 2-4 % (10th
-- percentile). Neutral to mixed at B=64 (11 row tiles: fastest +0.4..+1.9 %, median -0.6..
-- +0.4 %); in the narrower last column block and in an L2-resident W (256x256) it cost.
-- A prefetch inside the filling tile (8-64 rows ahead) or of every row in every tile did
-- not help. XW_SPREAD must be a power of two.
-- On a Xeon (avx512, fill=tile) it fires in 784-1024-10 B=64: -1.5/-0.7/+0.4 % (100
-- alternated rounds, load 4): noise. On Zen 5 (EPYC family 26 model 2, avx512 with two
-- 512-bit FMA pipes, 1 MB L2; tuned 784-1024-10 B=64, 26-27 alternated rounds, each the
-- fastest/median of 60 calls, the medians of those): the layer-0 forward 531 -> 515 us
-- (-3.0 %), the train step 1047 -> 1037 us (-0.9 %), never slower. On Zen 4 (EPYC family
-- 25 model 17, avx512 as two 256-bit halves, 1 MB L2) the same layer's forward took 1.5x
-- as long with it (1010-1090 -> 1490-1790 us, median of 21 calls, fastest of 15 rounds;
-- the prefetches themselves: the same loop without them 1050-1150 us; T1, T2 and NTA
-- hints as slow; 2 MB pages did not change it), and avx2's at 784x256 B=32 lost there too
-- (forward +31 %, train step +5 %, median of 15 alternated runs of the fastest of 10
-- medians of 21 calls). A gain of 1-3 % on two families against 5-50 % lost on a third: off
-- by default, on for the families that measured it faster (gen/cpus.lua: zen3 avx2, zen5
-- avx512; Zen 5 again 2026-12-02: 784-1024-10 forward 1.047x, step 1.015x), and a tune key
-- (`spread`, tried by `chainrule tune` where it fits: spread_fits) elsewhere.
M.XW_SPREAD = {}
-- the spread `chainrule tune` tries where the default has none
M.SPREAD_TRY = 8
M.SPREAD_TILES = 8
-- ISAs whose filling tile (x not packed) prefetches W's row XW_FILL_AHEAD rows ahead of the
-- one it copies: it reads W at its row stride, a line or two per row, and waited on each.
-- Measured on Zen 3 (784-50-10 B=64, the layer-0 forward alone, rdtsc, fastest of 4000
-- steps, 3 alternated runs): 54.6-55.3 -> 53.4-53.6 us; 6 to 32 rows ahead alike. Only
-- where W and x fit the L2 (xw_whole_k): 784-256-256-10 B=64 (W past the L2) ran 2-3 % slower
-- with it (train step, thread CPU time, 3 x 150 alternated rounds).
M.XW_FILL_PREFETCH = {avx2 = true}
M.XW_FILL_AHEAD = 12
-- ISAs whose packed xw takes the whole reduction in one panel (kc = K) when W and x together
-- fit the L2 (xw_whole_k): the panel then comes from L2 rather than L1, but the partial sums
-- are not stored to y and read back per k-block, the activation is applied from the tile's
-- registers (no pass over y), and each column block has one filling tile. The same bits (y
-- holds the exact partial sums). Measured on Zen 3 (784-50-10 B=64, clang -O2, rdtsc per
-- stage, fastest of 4000 steps, 3 alternated runs): the layer-0 forward 53.0-53.4 ->
-- 52.0-52.2 us (kc 392 -> 784), the train step 114.2-114.8 -> 113.1-113.2 us.
-- (avx512: with its 2 MB L2 and half-L2 packing no bench spec qualifies; off, unmeasured)
M.XW_WHOLE_K = {avx2 = true}
function M.xw_whole_k(isa, s)
  return M.pick(isa, "XW_WHOLE_K") == true and s.batch ~= nil and not M.huge(isa, s)
    and 4 * (s.K * s.N + s.batch * s.K) <= l2(isa)
end
-- ISAs whose packed weight gradient of a layer whose W and dW together pass the L2 (not huge)
-- takes whole rows of g (jc = N, when the block of g fits XTG_G_BYTES_X) and prefetches dW,
-- storing it after the update (pf): each tile row then continues the W and dW rows the tile
-- before it wrote, so they stream in order instead of in runs of jc floats. Measured on Zen 3
-- (whole train step, thread CPU time, 600-800 alternated rounds of 5-10 steps, load 5-7):
-- 784-256-256-10 B=64 fastest -0.6 %, 10th percentile -3.4 %, median -3.3 %; 784-256-10
-- B=32 -1.9 / -3.3 / -3.9 %; B=256 -0.7 % fastest. Neither part alone did as much (whole rows
-- without pf: B=64 -1.2 %, B=32 +0.9 %). avx512 and neon unmeasured: their output unchanged.
-- (avx512: no bench spec qualifies, the block of g of 784-1024-10 passes XTG_G_BYTES_X)
M.XTG_ROWS_WHOLE = {avx2 = true}

-- xtg's whole-row blocks (M.XTG_ROWS_WHOLE): packed g, not huge, W and dW together past the
-- L2, and nc rows of all N columns of g within XTG_G_BYTES_X
function M.xtg_rows_whole(isa, s, t)
  return M.pick(isa, "XTG_ROWS_WHOLE") == true and t.pack == true and not t.xq and s.batch ~= nil
    and 2 * 4 * s.K * s.N > l2(isa) and 4 * t.nc * s.N <= M.XTG_G_BYTES_X
end

-- ISAs whose packed xw, where x is larger than the L2 and W not huge, runs k-blocks outer
-- (tiling order=depth with pack=yes): every column block's panel of a kc-row slab in turn,
-- the slab's columns of x (at most XW_DEPTH_X_SHARE of the L2, unless kc is held at
-- XW_DEPTH_KC_MIN: past B = 1024 on avx2 the slab is bigger) staying in L2 while the
-- column blocks read them, instead of all of x streaming from L3 once per column block (16
-- times at 784x256, 12.8 MB at B=256); the partial sums carried in y (the same bits). Relies
-- on the L2 size only (l2: 512 KB for avx2, Zen 3): on avx2 it fires at 784x256 B=256 (x
-- 784 KB), not at B=128 (392 KB) or below; only with more than one column block (x is read
-- once per block). Not measured on Zen 3 (no such machine here); on the Xeon (2 MB L2),
-- with B=1024 standing in for Zen 3's B=256 (x 3.2 MB: the same x/L2, z/L2 and slab/L2), the
-- 784x256 forward alone, thread CPU time, alternated processes, load 5-7, kc=196 against
-- column blocks outer: fastest / 10th percentile / median -5.1/-10.0/-9.1 % (40 rounds;
-- kc 56, 98, 112, 392 alike within the noise); at B=256 itself (x within that L2)
-- -2.3/-3.3/+0.5 % (40 rounds, A/A noise up to 4 %), 784x50 B=256 +1.3/-3.6/-2.4 %.
-- (avx512: 784x256 is not packed there; off, unmeasured)
M.XW_DEPTH = {avx2 = true}
M.XW_DEPTH_X_SHARE = 2   -- the slab of x: at most half of the L2
M.XW_DEPTH_KC_MIN = 64
function M.xw_depth(isa, s, vecs)
  return M.pick(isa, "XW_DEPTH") == true and s.batch ~= nil and not M.huge(isa, s) and 4 * s.batch * s.K > l2(isa)
    and s.N > vecs * isa.width
end
function M.xw_depth_kc(isa, s, vecs)
  local most = math.max(M.XW_DEPTH_KC_MIN, l2(isa) // M.XW_DEPTH_X_SHARE // (4 * s.batch))
  most = math.min(most, math.max(1, M.PANEL_BYTES // (4 * vecs * isa.width)))
  return M.block(s.K, most, 1)
end

-- A block size for a loop over `total` in blocks of at most `most`: all of it when it
-- fits; else the largest divisor of total in [most/2, most], a multiple of `unit` if one
-- is (one block shape, so one copy of the code); else `most` (whole blocks and a rest).
-- whole: a multiple of `unit` in every case (a kernel whose blocks hold whole tiles; `most`
-- rounded down to one, at least `unit`), never a divisor that is not one.
function M.block(total, most, unit, whole)
  if total <= most then return total end
  for _, u in ipairs(whole and {unit} or {unit, 1}) do
    for c = most // u * u, (most + 1) // 2, -u do
      if c > 0 and total % c == 0 then return c end
    end
  end
  return whole and math.max(unit, most // unit * unit) or most
end

-- FMAs in flight that keep the pipes busy (latency 4 x 2 pipes: Zen 2-4, Intel since
-- Skylake, Neoverse): a register tile with fewer accumulators waits on its own chains.
M.IN_FLIGHT = 8

-- The largest g (batch x N floats, in bytes) for which xtg folds its tail columns into tiles
-- of fewer inputs (gen/kernels/tiled.lua matmul_xtg: R x tail = one vector). Each tile
-- streams the rows of g it reads, so fewer inputs per tile stream g more often: free while
-- g sits in L1 (784x50 B=64 on avx2, Zen 3: 60 -> 59 us), not past it. On Zen 5 (avx512,
-- clang -O2, train_step_scratch, fastest of 21 rounds, alternated processes) 784-500-10
-- B=64 folded its 4 tail columns into 4-input tiles (g 128 KB): 511-523 us; with 8-input
-- tiles and the tail pass 486-501 us, as fast per FLOP as 784-512-10.
M.XTG_FOLD_G_BYTES = 16 * 1024

-- Relative cost of xw's row tiles at a known batch with tiles `vecs` vectors wide: the
-- cycles per input k over all of y, counting each tile as max(its FMAs / 2 pipes,
-- IN_FLIGHT / 2) (a narrow remainder tile is latency-bound) and the row loop of
-- gen/kernels/tiled.lua (full tiles of R rows, then tiles of the powers of two below R).
function M.xw_cost(isa, N, batch, vecs)
  local R = math.max(1, math.min(isa.max_rows, isa.acc_regs // vecs))
  local function tile(r) return math.max(r * vecs, M.IN_FLIGHT) / 2 end
  local c = (batch // R) * tile(R)
  local left, p = batch % R, 1
  while p * 2 < R do p = p * 2 end
  while p >= 1 do
    if left >= p then c = c + tile(p); left = left - p end
    p = p // 2
  end
  local nvec = (N + isa.width - 1) // isa.width
  return c * nvec / vecs, R
end

-- xw's tile width at a batch of at least max_rows: the ISA's vec_max unless a wider tile
-- (fewer rows) covers the batch with fewer latency-bound remainder tiles, by the cost
-- model above, at least 5 % better (B = 8 on avx2: two 4-row x 3-vector tiles instead of a
-- 6-row and a 2-row tile of 2 vectors; measured 1.3x on 784x256). The model holds for every
-- family with 2 FMA pipes of latency 4; a tune file may still say otherwise.
local function xw_vecs(isa, s)
  local best, cost = isa.vec_max, M.xw_cost(isa, s.N, s.batch, isa.vec_max)
  for v = isa.vec_max + 1, isa.vec_max + 2 do
    local c, R = M.xw_cost(isa, s.N, s.batch, v)
    if R >= 2 and c < 0.95 * cost then best, cost = v, c end
  end
  return best
end

-- Rows of x per packed block for xw (tiling mc): the whole batch when its kc inputs fit
-- XW_X_BYTES, else the most whole row tiles that do; 0 (x not packed) without a known batch.
function M.xw_mc(isa, s, vecs, kc)
  if not s.batch then return 0 end
  local R = math.max(1, math.min(isa.max_rows, isa.acc_regs // vecs, s.batch))
  local fit = M.XW_X_BYTES // (4 * kc)
  if s.batch <= fit then return s.batch end
  -- the fewest blocks of whole tiles, as even as possible
  local most = math.max(R, fit // R * R)
  local nb = (s.batch + most - 1) // most
  return math.min(most, ((s.batch + nb - 1) // nb + R - 1) // R * R)
end

-- Families whose huge xw (x packed) takes a k-block small enough that the whole batch's
-- block of packed x and the panel of W fit the L1 together (XW_L1_SHARE of L1_BYTES, the
-- 32 KB every family above has at least): every row tile of a column block then reads its
-- broadcasts from L1, where the x block of XW_X_BYTES (kc from PANEL_BYTES_X: 784x1024 B=64,
-- kc 196, 50 KB of x + a 12.5 KB panel) came from L2 for every column block. The sums stay
-- the same (y holds the exact partial sums between k-blocks), more of them pass through y:
-- 64x2048 B=64 with kc 64 stores and reloads y 32 times instead of 8, 1 MB per 0.5 M cycles
-- of FMAs, within L2 on 1.25-2 MB parts, from L3 on Zen 3's 512 KB (about 2 bytes a cycle:
-- estimated, not measured there).
-- Only where the default's block and panel pass the whole L1 (784x1024 B=32, kc 112 with
-- 4x3 tiles: 25 KB, kept; there kc 98 measured +2.7/+5.2/+3.2 %, forward, 20 rounds) and the
-- whole batch fits with kc at least XW_L1_KC_MIN (B <= ~170 at width 16).
-- Measured on the Xeon (model 207 under KVM, 48 KB L1d, 2 MB L2; avx2 code, clang -O2, thread
-- CPU time, each sample one process's fastest of 3-20 calls, processes alternated, min / p10 /
-- median against kc 196/256, load 6-7 on 2 vCPUs, A/A floor +2.9/+2.1/+0.3 %):
-- 784-1024-10 B=64 forward -7.9/-8.9/-7.3 %, train step -3.1/-3.4/-5.0 % (40 rounds);
-- 784-2048-2048-10 B=64 forward -19.6/-15.7/-17.1 % (30), train -6.5/-6.7/-4.2 % (12);
-- 784-512-10 B=64 forward -1.9/-1.3/-1.6 %, train -3.5/-2.2/-1.3 % (40; W fits that L2).
-- Around it, 784-1024-10 forward against kc 56 (30 rounds): kc 28 +0.9/+2.4/+1.6 %, kc 112
-- +1.8/+3.6/+1.5 %, fill=loop +4.8/+4.0/+3.0 %, pf=no +3.8/+5.0/+4.8 %; tiles of 4 rows x 3
-- vectors at the same share (kc 56/64): 784-1024-10 +0.4/+3.4/+1.9 % forward, bench_big
-- -1.2..-3.8 % forward (noise-level, so not made a rule); the tile's k loop unrolled twice
-- (hand-edited) -2.0/+0.1/+1.6 %.
-- kc 112/128 fit the Xeon's 48 KB L1 but not Zen 3's 32 KB; the 3/4 share gives 56/64.
-- 784-1024-10 B=128 (kc 196 with mc 66 -> kc 28, mc 128): forward -8.6/-7.4/-4.5 %, train
-- -0.3/-3.0/-6.9 % (20 rounds, load 6). A kc block of W's rows at N >= 1024 is one 4 KB page
-- a row: 56-64 rows also stay within a 64-entry L1 DTLB (Zen 3) where 196-256 did not.
M.XW_X_L1 = {avx2 = true}
M.XW_L1_SHARE = 3 / 4
M.XW_L1_KC_MIN = 32
-- the k-block of that rule (a block of K, so a divisor where one fits), or nil where it
-- does not fire
function M.xw_l1_kc(isa, s, vecs)
  if not (M.pick(isa, "XW_X_L1") and s.batch and M.huge(isa, s)) then return nil end
  local most = math.floor(M.L1_BYTES * M.XW_L1_SHARE) // (4 * (s.batch + vecs * isa.width))
  if most < M.XW_L1_KC_MIN then return nil end
  return M.block(s.K, most, 1)
end

-- xw's k-block for order=depth: a slab of W at most PANEL_BYTES but 16 rows at least (the
-- partial sums in y are reloaded once per slab)
function M.depth_kc(s)
  return M.block(s.K, math.max(16, M.PANEL_BYTES // (4 * s.N)), 1)
end

-- Rows per register tile of xw with tiling t (sizes s)
local function xw_rows(isa, s, t)
  return math.max(1, math.min(isa.max_rows, isa.acc_regs // t.vecs, s.batch or isa.max_rows))
end

-- Whether gen/kernels/tiled.lua's matmul_xw writes spread prefetches for tiling t: panels
-- of W packed column block by column block, filled by a tile, x unpacked (check refuses a
-- spread elsewhere)
local function spread_writable(t)
  return t.pack and t.fill == "tile" and t.mc == 0 and t.order == "columns"
end

-- Whether xw's spread prefetches suit tiling t (sizes s): writable, W past the L2, at most
-- SPREAD_TILES row tiles, an ISA that prefetches
function M.spread_fits(isa, s, t)
  local R = xw_rows(isa, s, t)
  local from_l3 = 4 * s.K * s.N > l2(isa)
  local few = s.batch ~= nil and (s.batch + R - 1) // R <= M.SPREAD_TILES
  return spread_writable(t) and from_l3 and few and prefetches(isa) and true or false
end

-- xw's default tiling spread (M.XW_SPREAD where it suits t: follows pack, fill, mc and vecs,
-- which a tune file or a candidate may set; a tune file may also set spread itself)
local function spread_of(isa, s, t)
  return M.spread_fits(isa, s, t) and M.pick(isa, "XW_SPREAD") or 0
end

-- Families whose unpacked xw and xtg at a batch of at least WHOLE_TILES_BATCH take tiles one vector
-- wider than vec_max (fewer rows: acc_regs // vecs) when that makes N a whole number of
-- tiles and vec_max does not (tiling's vecs). The blocks of vec_max vectors otherwise leave
-- a narrow last column tile (784x256 on avx512: 5 tiles of 3 vectors and one of 1) whose
-- broadcasts outnumber its FMAs and which streams the whole of W (xw) or g (xtg) from L2
-- once more for a sixteenth of the work. Only at a batch of WHOLE_TILES_BATCH or more: the
-- 6-row tiles then cover it with one short remainder tile among many. Measured on a Xeon
-- (avx512; train_step_scratch, fastest / 10th percentile / median of 60 alternated rounds,
-- load 5): 784-256-10 B=256 -8.2/-6.7/-3.9 % (alone, `chainrule tune`'s 784x256 xw
-- 572 us with the wider tile, 97 % of the FMA peak); B=32 +0.2/+0.2/+0.4 %; 784-256-256-10
-- B=64 +0.4/-1.4/-2.0 %; B=8 +2.5/+2.9/+2.8 % (8 rows = a 6-row and a 2-row tile).
-- Not measured on avx2/neon (their vec_max tiles leave other remainders).
M.WHOLE_TILES = {avx512 = true}
M.WHOLE_TILES_BATCH = 128
local function whole_vecs(isa, s, v)
  if not M.pick(isa, "WHOLE_TILES") or not s.batch or s.batch < M.WHOLE_TILES_BATCH then return v end
  if s.N % (v * isa.width) == 0 or v ~= isa.vec_max then return v end
  local w = v + 1
  if s.N % (w * isa.width) == 0 and isa.acc_regs // w >= 4 then return w end
  return v
end

-- xw's loop order and packing as a tune file's line fixes them (over: its keys; nil: none),
-- {order, pack} (nil: the layer's default). The keys a line leaves out keep the layer's
-- default only where it agrees with the keys given, so each choice below follows what the
-- line gives: mc > 0 packs x, which only column blocks outer do (order=columns, pack=yes);
-- order=rows reads W in place (pack=no); a given order takes that order's own kc and mc
-- (columns: the panel's kc, not XW_DEPTH's slab), not those of the layer's default order.
local function xw_given(over)
  over = over or {}
  local packs_x = over.mc ~= nil and over.mc > 0
  local order = over.order or (packs_x and "columns" or nil)
  local pack = over.pack
  if pack == nil and order == "rows" then pack = false end
  if pack == nil and packs_x then pack = true end
  return {order = order, pack = pack}
end

function M.tiling(isa, product, s, over)
  local t
  if product == "xw" or product == "xtg" then
    local rows = math.min(isa.max_rows, s.batch or isa.max_rows)
    -- small batches: fewer rows, so wider tiles (one pass over W) fit the registers
    t = {vecs = math.max(isa.vec_max, math.min(isa.acc_regs // (rows + 1), 12))}
    if product == "xw" and s.batch and s.batch >= isa.max_rows then t.vecs = xw_vecs(isa, s) end
    -- a tune file's vecs is known before anything that follows from the tile's width (xw's
    -- pack by row tiles, kc by panel bytes, XW_DEPTH), so the keys its line leaves out agree
    local given_vecs = product == "xw" and over and over.vecs
    if given_vecs then t.vecs = given_vecs end
    if product == "xw" then
      local bytes = 4 * s.K * s.N
      local share = M.pick(isa, "PACK_SHARE") or 4
      local big = share * bytes > l2(isa)
      -- a packed panel pays for its copy only when enough row tiles read it (B = 8: two
      -- tiles; unpacked column blocks measured 1.3x on 784x256): big W then goes unpacked
      local tiles = s.batch and (s.batch + isa.max_rows - 1) // math.max(1, math.min(isa.max_rows, isa.acc_regs // t.vecs))
      local reused = not tiles or tiles >= 4
      t.pack = s.batch ~= 1 and s.K >= 64 and ((big and reused) or (4 * s.N) % 4096 == 0)
      -- a tune file's pack, order or mc (over) fixes the choices below it: the keys its line
      -- leaves out take the defaults that agree with the keys it gives (xw_given)
      local pick = xw_given(over)
      if pick.pack ~= nil then t.pack = pick.pack end
      -- big W unpacked (few row tiles): k-blocks outer ("depth"), so W is read once and in
      -- order, a slab of kc whole rows at a time (784x256 B=8 on Zen 3: the forward 51 ->
      -- 45 us against column blocks outer, which walk W at its row stride)
      t.order = pick.order or t.pack and "columns" or (big and s.batch ~= 1) and "depth" or "rows"
      t.kc = s.K
      t.mc = 0
      t.fill = M.pick(isa, "XW_FILL_TILE") and "tile" or "loop"
      if not t.pack and not given_vecs then t.vecs = whole_vecs(isa, s, t.vecs) end
      if t.pack then
        local panel = xw_packs_x(isa, s) and M.PANEL_BYTES_X or M.PANEL_BYTES
        t.kc = M.block(s.K, math.max(1, panel // (4 * t.vecs * isa.width)), 1)
        if M.xw_whole_k(isa, s) then t.kc = s.K end
        local l1kc = M.xw_l1_kc(isa, s, t.vecs)
        if l1kc and l1kc < t.kc and 4 * t.kc * (s.batch + t.vecs * isa.width) > M.L1_BYTES then t.kc = l1kc end
        t.mc = xw_packs_x(isa, s) and M.xw_mc(isa, s, t.vecs, t.kc) or 0
        if pick.order == nil and M.xw_depth(isa, s, t.vecs) then t.order = "depth" end
        if t.order == "depth" then t.mc, t.kc = 0, M.xw_depth_kc(isa, s, t.vecs) end
      elseif t.order == "depth" then
        t.kc = M.depth_kc(s)
      end
    else
      -- pack g where xw packs W (a batch that fills tiles); the tiles as wide as a tune
      -- file's vecs if it gives one, else the widest up to the default that divides N.
      -- Not also where g alone is past the L1 (tried on avx512, 784x256 B=64, whose xw does
      -- not pack: g in blocks of 64 columns, 8x2 or 6x4 tiles, so layer 0 reads 4 x 200 KB
      -- of x from L2 instead of 98 x 64 KB of g). Xeon, train_step_scratch, thread CPU time,
      -- alternated processes, load 4-7, 10th percentile (median over rounds): 784-256-256-10
      -- plain SGD -1.9 % (50 rounds; that layer's weight gradient + update 168.7 -> 159.4 us),
      -- but with momentum (a runtime value: the tiles then update W and buf in strips of jc
      -- columns at W's row stride) 784-256-256-10 +1.9 %, 784-256-10 (fashion_mlp) +2 to
      -- +4 % (4 runs of 20-40 rounds; with buf prefetched beside W still +2.3 %), and
      -- 784-256-10 plain +0.7 %. `chainrule tune` has these tilings among its candidates.
      local big = M.tiling(isa, "xw", s).pack and s.batch ~= nil and s.batch >= 8
      -- Packed, the widest tile up to the default that divides N; where only a one-vector
      -- tile does, the default's width where the ISA takes ragged blocks (XTG_RAGGED: the
      -- last block of g ends in a narrower tile, xtg_packed; N a whole number of vectors).
      local ragged = M.pick(isa, "XTG_RAGGED") == true
      if big and not (over and over.vecs) then
        local v = t.vecs
        while v > 1 and s.N % (v * isa.width) ~= 0 do v = v - 1 end
        if s.N % (v * isa.width) == 0 and not (ragged and v == 1) then t.vecs = v end
      end
      if not big then t.vecs = whole_vecs(isa, s, t.vecs) end
      local TW = (over and over.vecs or t.vecs) * isa.width
      t.pack = big and s.N % (ragged and isa.width or TW) == 0 or false
      t.nc = s.batch and M.block(s.batch, M.XTG_ROWS, 1) or 1
      t.xq = t.pack and M.huge(isa, s)
      local gbytes = t.xq and M.XTG_G_BYTES_XQ or M.XTG_G_BYTES
      if M.pick(isa, "XTG_WHOLE_ROWS") == true and t.pack and s.batch and t.nc < s.batch and 4 * s.K * s.N > l2(isa)
         and 4 * s.batch * TW <= gbytes then
        t.nc = s.batch
      end
      -- (packed: blocks of whole tiles, xtg_packed's copy of g runs TW columns at a time)
      t.jc = t.pack and M.block(s.N, math.max(TW, gbytes // (4 * t.nc) // TW * TW), TW, true) or s.N
      if M.xtg_rows_whole(isa, s, t) then t.jc = s.N end
      -- unpacked, W and dW together within L2: the update after the tiles (a second pass
      -- over both from L2, aligned and contiguous) beat the update inside every tile (rows
      -- of a few vectors at W's row stride, split across cache lines) by 2.5 us on 784x50
      -- B=64 (Zen 3); bigger W keeps it in the tiles, so W is read from memory once.
      -- Measured on avx2 only: the other families keep the tiles' update (XTG_UPDATE_AFTER)
      local fits = M.pick(isa, "XTG_UPDATE_AFTER") and 2 * 4 * s.K * s.N <= l2(isa)
      local packed = t.pack
      if over and over.pack ~= nil then packed = over.pack end
      t.update = (fits and not packed) and "after" or "tiles"
      -- the layer's input gradient in gwt's form gt by GWT_GT_FEWER (s.first false: a hidden
      -- layer, gen/kernels/layer.lua): gt writes g transposed into dW's memory, so the
      -- scratch step's copy of dW is no longer free; with the update in the tiles that step
      -- stores no dW at all (keep = 0) and reads none back (not in compact code, whose
      -- gwt has no gt: M.compact, set by decide)
      if t.update == "after" and M.pick(isa, "XTG_TILES_UNDER_GT") and s.first == false
         and not M.compact and M.gwt_form(isa, s) == "gt" then
        t.update = "tiles"
      end
      t.gq = M.pick(isa, "XTG_G_COPY") == true and not packed and s.batch ~= nil and s.N % isa.width ~= 0
        and s.K >= M.XTG_G_COPY_K and 4 * s.batch * (s.N - s.N % isa.width) <= M.XTG_G_BYTES
      t.gpf = (M.pick(isa, "XTG_G_AHEAD") and not packed and not t.gq and s.batch ~= nil
        and 4 * s.batch * s.N > M.L1_BYTES) and M.pick(isa, "XTG_G_AHEAD") or 0
    end
  elseif product == "gwt" then
    local kv = isa.vec_max
    t = {vecs = kv, rows = isa.max_rows, form = M.gwt_form(isa, s)}
    local T = isa.transpose_n or 1
    t.jc = M.block(s.N, math.max(T, M.WT_BYTES // (4 * kv * isa.width) // T * T), T)
  else
    error("tiling: unknown product " .. tostring(product))
  end
  if product == "xtg" and M.xtg_sparse_default(isa, s) then t.sparse = true end
  for k, v in pairs(over or {}) do t[k] = v end
  if product == "xw" and over and over.mc == nil then
    -- (a tune file older than mc, or one that sets pack or kc only: x packed as by default
    -- for its panels, column blocks outer only)
    t.mc = (t.pack and t.order == "columns" and xw_packs_x(isa, s)) and M.xw_mc(isa, s, t.vecs, t.kc) or 0
  end
  if product == "xw" and not (over and over.pf ~= nil) then
    t.pf = t.mc > 0 and prefetches(isa)
  end
  if product == "xw" and not (over and over.spread ~= nil) then t.spread = spread_of(isa, s, t) end
  if product == "xtg" and over and over.xq == nil then t.xq = t.pack and M.huge(isa, s) end
  if product == "xtg" and not (over and over.pf ~= nil) then
    t.pf = (t.xq == true or M.xtg_rows_whole(isa, s, t)) and prefetches(isa)
  end
  return t
end

-- What a tune file may set, per product (gen/tune.lua reads the files, `chainrule tune`
-- writes them): each key's kind ("int" with bounds from check_value, "int0" the same with
-- 0 allowed, or the words it
-- takes). "stream" is the batch-1 forward (gen/kernels/stream.lua's plan).
M.TUNE_KEYS = {
  xw = {vecs = "int", order = {"rows", "columns", "depth"}, pack = {"no", "yes"}, kc = "int", mc = "int0", fill = {"loop", "tile"},
         pf = {"no", "yes"}, spread = "int0"},
  gwt = {vecs = "int", rows = "int", jc = "int", form = {"wt", "gt"}},
  xtg = {vecs = "int", rows = "int", pack = {"no", "yes"}, jc = "int", nc = "int", xq = {"no", "yes"}, update = {"tiles", "after"},
         pf = {"no", "yes"}, sparse = {"no", "yes"}},
  stream = {kind = {"flat", "regs", "rows"}, rows = "int", sets = "int", vecs = "int"},
}
-- The tiling a kernel runs: a.tiling as given (a tune candidate: full), or, for a tune
-- file's entry (t.given: the keys its line set), the default of this call's sizes (a with
-- K, N, batch, first) with those keys; else the default.
function M.tiling_for(isa, product, a)
  local t = a.tiling
  if t and t.given then
    local r = M.tiling(isa, product, a, t.given)
    -- a tune file's sparse=yes where the family's lists would pass the bound (t.where: its
    -- FILE:LINE, gen/tune.lua)
    if product == "xtg" and r.sparse and not M.xtg_sparse_fits(isa, a) then
      require("errors").user((t.where or "tune file") .. ": xtg " .. a.K .. "x" .. a.N .. " B=" .. a.batch .. ": "
        .. sparse_too_big(isa, a))
    end
    return r
  end
  return t or M.tiling(isa, product, a)
end

-- The stack a tuned buffer may take (a packed panel, a transposed block of W): 4 x the default.
M.TUNE_STACK_BYTES = 128 * 1024

-- The problem with a full tiling t of product (sizes s) on isa, or nil when the kernels can
-- write it: every candidate of `candidates` and every tune file entry goes through here.
function M.check(isa, product, s, t)
  local V = isa.width
  local function range(key, lo, hi)
    local v = t[key]
    if math.type(v) ~= "integer" or v < lo or v > hi then
      return string.format("%s=%s: expected an integer from %d to %d", key, tostring(v), lo, hi)
    end
  end
  if product == "stream" then
    if s.batch ~= 1 then return "stream: the batch-1 forward, but the batch is " .. s.batch end
    local p = M.stream_plan(isa, s, {kind = t.kind})
    if p.kind ~= t.kind then return "kind=" .. t.kind .. " does not suit " .. s.K .. "x" .. s.N .. " on " .. isa.name end
    if t.kind == "rows" then
      return range("rows", 1, math.min(s.K, 64)) or range("vecs", 1, math.max(1, math.min(4, s.N // V)))
    end
    if t.kind == "regs" then return range("sets", 1, math.max(1, math.min(s.K, (isa.regs - 4) // p.nvec))) end
    return nil
  end
  local err = range("vecs", 1, isa.acc_regs)
  if err then return err end
  if product == "xw" then
    if t.order ~= "rows" and t.order ~= "columns" and t.order ~= "depth" then return "order=" .. tostring(t.order) .. ": expected rows, columns or depth" end
    if type(t.pack) ~= "boolean" then return "pack=" .. tostring(t.pack) .. ": expected yes or no" end
    if t.pack and t.order == "rows" then return "pack=yes needs order=columns or depth" end
    err = range("kc", 1, s.K) or range("mc", 0, s.batch or 0)
    if err then return err end
    if t.mc > 0 and not t.pack then return "mc=" .. t.mc .. " needs pack=yes" end
    if t.mc > 0 and t.order == "depth" then return "mc=" .. t.mc .. " needs order=columns" end
    if t.fill ~= "loop" and t.fill ~= "tile" then return "fill=" .. tostring(t.fill) .. ": expected loop or tile" end
    if type(t.pf) ~= "boolean" then return "pf=" .. tostring(t.pf) .. ": expected yes or no" end
    if t.pf and t.mc == 0 then return "pf=yes needs mc > 0" end
    err = range("spread", 0, 64)
    if err then return err end
    if t.spread & (t.spread - 1) ~= 0 then return "spread=" .. t.spread .. ": expected 0 or a power of two" end
    if t.spread > 0 and not spread_writable(t) then
      return "spread=" .. t.spread .. " needs order=columns pack=yes fill=tile mc=0"
    end
    local R = xw_rows(isa, s, t)
    if t.mc > 0 and t.mc < s.batch and t.mc % R ~= 0 then
      return string.format("mc=%d: expected the batch %d or a multiple of the tile's %d rows", t.mc, s.batch, R)
    end
    local bytes = t.pack and 4 * (t.kc * t.vecs * V + t.kc * t.mc) or 0
    if bytes > M.TUNE_STACK_BYTES then
      return string.format("kc=%d x vecs=%d, mc=%d: the packed panel and x would take %d bytes of stack (at most %d)",
        t.kc, t.vecs, t.mc, bytes, M.TUNE_STACK_BYTES)
    end
  elseif product == "xtg" then
    if type(t.pack) ~= "boolean" then return "pack=" .. tostring(t.pack) .. ": expected yes or no" end
    if t.sparse ~= nil and type(t.sparse) ~= "boolean" then return "sparse=" .. tostring(t.sparse) .. ": expected yes or no" end
    if t.sparse and not xtg_sparse_can(isa, s) then
      return string.format("sparse=yes: needs avx512, a known batch and K=%d a multiple of %d", s.K, isa.width)
    end
    -- (the lists' bound at the family's density limit: a tune file is read before the family
    -- is known, so there only when generating, tiling_for)
    if t.sparse and isa.cpu and not M.xtg_sparse_fits(isa, s) then return sparse_too_big(isa, s) end
    if t.xq and not t.pack then return "xq=yes needs pack=yes" end
    if t.pf ~= nil and type(t.pf) ~= "boolean" then return "pf=" .. tostring(t.pf) .. ": expected yes or no" end
    if t.pf and not t.pack then return "pf=yes needs pack=yes" end
    err = range("jc", 1, s.N) or range("nc", 1, s.batch or 1) or (t.rows and range("rows", 1, isa.max_rows))
    if err then return err end
    if t.update ~= "tiles" and t.update ~= "after" then return "update=" .. tostring(t.update) .. ": expected tiles or after" end
    if t.pack and t.update == "after" then return "update=after needs pack=no" end
    if t.pack then
      local TW = t.vecs * V
      if s.N % V ~= 0 then
        return string.format("pack=yes: N=%d is not a whole number of %d-float vectors", s.N, V)
      end
      if t.jc % TW ~= 0 and t.jc < s.N then
        return string.format("pack=yes: jc=%d must be a multiple of vecs x %d = %d, or N=%d", t.jc, V, TW, s.N)
      end
      if 4 * t.jc * t.nc > M.TUNE_STACK_BYTES then
        return string.format("jc=%d x nc=%d: the packed block of g would take %d bytes of stack (at most %d)",
          t.jc, t.nc, 4 * t.jc * t.nc, M.TUNE_STACK_BYTES)
      end
    end
  elseif product == "gwt" then
    err = range("rows", 1, isa.max_rows) or range("jc", 1, s.N)
    if err then return err end
    local T = isa.transpose_n or 1
    -- (block sizes the kernel is known to write: whole transposes, or one block shape)
    if t.jc % T ~= 0 and s.N % t.jc ~= 0 then return "jc=" .. t.jc .. ": expected a multiple of " .. T .. " or a divisor of " .. s.N end
    if 4 * t.jc * t.vecs * V > M.TUNE_STACK_BYTES then
      return string.format("jc=%d x vecs=%d: the transposed block would take %d bytes of stack (at most %d)",
        t.jc, t.vecs, 4 * t.jc * t.vecs * V, M.TUNE_STACK_BYTES)
    end
    -- (no form: "wt", as a table from before the key)
    if t.form ~= nil and t.form ~= "wt" and t.form ~= "gt" then return "form=" .. tostring(t.form) .. ": expected wt or gt" end
    if t.form == "gt" then return M.gwt_gt_problem(isa, s) end
  end
  return nil
end

-- The batch-1 plan of gen/kernels/stream.lua as a tiling: {kind, rows | sets} (nil fields
-- for a kind that has none); `over` as for tiling.
function M.stream_plan(isa, s, over)
  local stream = require "kernels.stream"
  return stream.plan({batch = 1, K = s.K, N = s.N, stream = over}, isa)
end

-- A tiling in the tune file's words (pack as yes/no), keys in a fixed order.
function M.words(product, t)
  local keys = {}
  for k in pairs(M.TUNE_KEYS[product]) do if t[k] ~= nil then keys[#keys + 1] = k end end
  table.sort(keys)
  local w = {}
  for i, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "boolean" then v = v and "yes" or "no" end
    w[i] = k .. "=" .. tostring(v)
  end
  return table.concat(w, " ")
end

-- A few tilings worth timing for one product (the default first), each a full table that
-- passes M.check: the tile width around the ISA's default, loop order and packing, the
-- k-block, gwt's rows and transposed block, and the batch-1 stream kinds.
function M.candidates(isa, product, s)
  local out, seen = {}, {}
  local function add(t)
    if product == "xw" and t.spread == nil then t.spread = spread_of(isa, s, t) end
    if M.check(isa, product, s, t) then return end
    local key = M.words(product, t)
    if not seen[key] then seen[key] = true; out[#out + 1] = t end
  end
  if product == "stream" then
    local def = M.stream_plan(isa, s)
    add({kind = def.kind, rows = def.rows, sets = def.sets, vecs = def.vecs})
    for _, kind in ipairs({"flat", "regs", "rows"}) do
      local p = M.stream_plan(isa, s, {kind = kind})
      if p.kind == kind then
        if kind == "rows" then
          for _, r in ipairs({4, 8, 16}) do add({kind = kind, rows = math.min(r, s.K), vecs = p.vecs}) end
          for _, u in ipairs({1, 2, 4}) do add({kind = kind, rows = p.rows, vecs = u}) end
        elseif kind == "regs" then
          for _, n in ipairs({1, 2, p.sets}) do add({kind = kind, sets = n}) end
        else
          add({kind = kind})
        end
      end
    end
    return out
  end
  local def = M.tiling(isa, product, s)
  local function with(fields)
    local t = {}
    -- (not def's spread: each candidate's own default, spread_of, unless fields set one)
    for k, v in pairs(def) do if k ~= "spread" then t[k] = v end end
    for k, v in pairs(fields) do t[k] = v end
    return t
  end
  add(with({}))
  -- (xw: the default with the spread prefetches toggled, where they fit)
  if product == "xw" and M.spread_fits(isa, s, def) then add(with({spread = def.spread > 0 and 0 or M.SPREAD_TRY})) end
  local vs = {}
  for _, v in ipairs({1, def.vecs - 1, def.vecs, def.vecs + 1, def.vecs + 2}) do
    if v >= 1 and v <= isa.acc_regs // 2 then vs[#vs + 1] = v end
  end
  if product == "xw" then
    for _, v in ipairs(vs) do
      add(with({vecs = v, order = "rows", pack = false, kc = s.K, mc = 0, pf = false}))
      add(with({vecs = v, order = "columns", pack = false, kc = s.K, mc = 0, pf = false}))
      for _, bytes in ipairs({M.PANEL_BYTES, 2 * M.PANEL_BYTES}) do
        local kc = M.block(s.K, math.max(1, bytes // (4 * v * isa.width)), 1)
        add(with({vecs = v, order = "columns", pack = true, kc = kc, mc = 0, pf = false}))
        add(with({vecs = v, order = "columns", pack = true, kc = kc, mc = 0, pf = false, fill = def.fill == "tile" and "loop" or "tile"}))
        local mc = M.xw_mc(isa, s, v, kc)
        add(with({vecs = v, order = "columns", pack = true, kc = kc, mc = mc, pf = mc > 0 and def.pf}))
        if mc > 0 and isa.prefetch then add(with({vecs = v, order = "columns", pack = true, kc = kc, mc = mc, pf = not def.pf})) end
        if mc > 0 then add(with({vecs = v, order = "columns", pack = true, kc = kc, mc = mc, pf = def.pf, fill = def.fill == "tile" and "loop" or "tile"})) end
      end
      -- (huge layers: the k-block whose x block and panel fit the L1, M.xw_l1_kc, at this width)
      local l1 = M.xw_l1_kc(isa, s, v)
      if l1 then add(with({vecs = v, order = "columns", pack = true, kc = l1, mc = M.xw_mc(isa, s, v, l1), pf = def.pf})) end
      add(with({vecs = v, order = "depth", pack = false, kc = M.depth_kc(s), mc = 0, pf = false}))
      if s.batch then
        add(with({vecs = v, order = "depth", pack = true, kc = M.xw_depth_kc(isa, s, v), mc = 0, pf = false}))
      end
    end
  elseif product == "gwt" then
    local T = isa.transpose_n or 1
    for _, v in ipairs(vs) do
      local most = math.max(T, M.WT_BYTES // (4 * v * isa.width) // T * T)
      for _, jc in ipairs({M.block(s.N, most, T), M.block(s.N, 2 * most, T), M.block(s.N, math.max(T, most // 2 // T * T), T)}) do
        add(with({vecs = v, jc = jc, form = "wt"}))
      end
    end
    for _, r in ipairs({isa.max_rows // 2, isa.max_rows - 1}) do if r >= 1 then add(with({rows = r, form = "wt"})) end end
    -- (the others "wt": tune times gwt alone, without the scratch "gt" needs, so a "gt"
    -- default is timed as "wt" there; the whole step's check then compares the two)
  else
    for _, u in ipairs({"tiles", "after"}) do add(with({pack = false, update = u, pf = false})) end
    if def.pack then add(with({pf = not def.pf})) end
    for _, v in ipairs(vs) do
      add(with({vecs = v, pack = false, pf = false}))
      local TW = v * isa.width
      if s.batch and s.N % isa.width == 0 then
        -- packed g: the default block of rows, blocks of columns around the default's bytes
        for _, bytes in ipairs({M.XTG_G_BYTES // 2, M.XTG_G_BYTES, 2 * M.XTG_G_BYTES}) do
          for _, nc in ipairs({def.nc, M.block(s.batch, 2 * M.XTG_ROWS, 1)}) do
            -- (update in the tiles: a packed g cannot take the default's update after them)
            add(with({vecs = v, pack = true, nc = nc, jc = M.block(s.N, math.max(TW, bytes // (4 * nc) // TW * TW), TW, true),
                      update = "tiles", gq = false, gpf = 0}))
          end
        end
      end
    end
  end
  return out
end

M.PHRASE = {straight = "straight-line products", tiled = "tiled products", portable = "products in loops"}
M.STYLE = {straight = "straight-line", tiled = "tiled", portable = "loops"}

-- The size of NAME.c above which the driver generates the network once more as compact
-- code (gen/kernels/tiled.lua's row_loop: row tails as one-row loops; gen/kernels/shared.lua:
-- one static function per distinct tile, shared by the layers), for the bound of 1 MB and
-- 15 s of clang -O2 per generated file: a 16-layer net of odd widths ~1000 at batch 63 gave
-- 0.78-1.06 MB (avx2-neon; avx512 1.02 MB took 18 s of clang -O2 under load), compact
-- 0.39-0.5 MB in 4-7 s.
M.CODE_BYTES = 768 << 10

-- The most a product step's output gradient can hold of nonzeros, as a share of its
-- elements: a max pooling right after it (the activation fused between) gives one gradient
-- per window, at its first maximum, and zeros elsewhere, so at most pool.out / pool.in_
-- (LeNet's 2x2 pools: 1/4); 1 otherwise. gen/kernels/convtile.lua's weight and input
-- gradients skip the zeros where this is at most CONV_SPARSE_DENSITY.
function M.g_density(s, nxt)
  local m = nxt and nxt.map
  if s.product and m and m.kind == "maxpool2d" then return m.out / m.in_ end
  return 1
end
-- ISAs whose conv2d weight gradient reads only g's nonzero pixels when g_density is at most
-- CONV_SPARSE_DENSITY and the kernel is CONV_SPARSE_K wide or wider (up to 8: each (c, ky)
-- row of a pixel's input patch is one 8-lane vector, dW[o] is C·K of them): per nonzero
-- pixel C·K 8-lane FMAs, where the dense tiles spend C·K²/W W-lane FMAs per pixel and
-- output channel, zero or not. At 1/4 that is 0.25·K·C 8-lane FMAs against K²·C/16 16-lane
-- ones on avx512 and K²·C/8 8-lane ones on avx2. avx2: 2.5x fewer at K = 5, 1.5x at K = 3,
-- even at K = 2, so from 3. avx512 where a 16-lane FMA takes two 8-lane slots (Zen 4)
-- likewise; where it takes one (two 512-bit FMA ports) 1.25x at K = 5, even at K = 4, a
-- loss at 3: from 5 by default, from 3 for zen4 (gen/cpus.lua). The nonzeros are compressed
-- by avx512's 16-lane compress or avx2's 8-lane permute (convtile.lua). Measured on Zen 4
-- (EPYC family 25 model 17), train_step_scratch in a driver, builds alternated, minimum
-- of each run: LeNet-5 B=64 (K = 5) avx512 1513-1524 -> 1375-1410 us, avx2 1518-1523 ->
-- 1359-1371 us (make bench's avx512 row 1527 -> 1327 us); 16@14x14 -> 32 channels + 2x2
-- pool, B=64: K = 5 avx512 5.95-6.13 -> 4.55-4.62 ms, avx2 6.03-6.12 -> 4.67-4.72 ms; K = 3
-- avx512 2298-2300 -> 2118-2130 us, avx2 2340-2343 -> 2206-2224 us. Not measured on Intel.
M.CONV_SPARSE_WGRAD = {avx512 = true, avx2 = true}
M.CONV_SPARSE_DENSITY = 1 / 4
-- ISAs whose conv2d input gradient, under the same g_density, adds each nonzero pixel's
-- weights into a framed dx instead of the dense tap sums (convtile.lua sparse_dx, which
-- also compares the two forms' operations): per nonzero C·K 8-lane patch rows of FMAs, per
-- pixel C·K 8-lane adds into the frame, where the tap sums spend C·K²·O/W FMAs per pixel.
M.CONV_SPARSE_DX = {avx512 = true, avx2 = true}
-- What one of those adds into the frame (an 8-lane load, add and store) counts as in
-- sparse_dx's comparison, in the ISA's vector FMAs: 2 where an FMA takes half a cycle (two
-- 256-bit FMAs a cycle on avx2; two 512-bit FMA ports on a Xeon or Zen 5) and the add about
-- one store slot; 1 for zen4 (gen/cpus.lua), whose 512-bit FMA takes a whole cycle: there
-- the conv32-at-kernel-3 case (cpus.lua) was 1.07x faster sparse, which 2 left dense.
-- Measured on Zen 4 only: the 2 is reasoned from the port counts, not timed on an Intel CPU.
-- Where these guesses are wrong for a machine, `chainrule tune` times each conv layer's
-- other form of dW and dx in the whole train step (gen/tune.lua conv_check) and a tune
-- file's conv line overrides them per layer.
M.CONV_SPARSE_DX_ADD = {avx512 = 2, avx2 = 2}
M.CONV_SPARSE_K = {avx512 = 5, avx2 = 3}

-- tuned (optional): gen/tune.lua's lookup, (product, K, N, batch) -> the tune file's tiling
-- or nil; the kernels take it in place of M.tiling's default. compact: the row tails as
-- one-row loops (gen --compact: true; "auto" when the driver chose it, see M.CODE_BYTES).
-- A step's own kernels: the module its op names (conv2d, pooling, flatten:
-- gen/kernels/<op.kernels>.lua, with forward and backward), or nil (gen/kernels/layer.lua's).
function M.own_kernels(s)
  local node = s.product or s.map
  return node and node.op.kernels and require("kernels." .. node.op.kernels)
end

function M.decide(g, isa, tuned, compact)
  local steps = steps_of(g)
  local family, fmas = family_of(g, steps, isa)
  local kernels = require("kernels." .. family)
  if kernels.set_compact then kernels.set_compact(compact) end
  M.compact = compact and true or false   -- (compact code has no gt: XTG_TILES_UNDER_GT)
  -- which steps' training forwards leave z unwritten, nothing reading it (an op's own
  -- kernels say: gen/kernels/conv.lua's z_unread; a linear layer's, the family's:
  -- gen/kernels/tiled.lua's); plan.lua and the kernels follow this
  for k, s in ipairs(steps) do
    local by = M.own_kernels(s) or s.product and kernels
    s.z_unread = by and by.z_unread and by.z_unread(s, steps[k + 1], isa) or false
    s.g_density = M.g_density(s, steps[k + 1])
  end
  return {
    steps = steps,
    family = family,
    kernels = kernels,
    style = M.STYLE[family],
    phrase = M.PHRASE[family] .. (compact and kernels.set_compact and " (compact row tails"
      .. (compact == "auto" and ": the code passed " .. (M.CODE_BYTES >> 10) .. " KiB" or "") .. ")" or ""),
    fmas = fmas,
    budget = g.code_budget,
    fuse_opt = kernels.fuses_opt or false,
    noinline = family == "straight",
    tuned = family == "tiled" and tuned or false,
  }
end

return M
