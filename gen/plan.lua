-- Memory plan: where every tensor lives, for the graph and the schedule's steps. Three
-- caller-owned structs:
--   params/grads  the parameter tensors (same layout), in spec order
--   work          activations kept for the backward pass and gradients between steps;
--                 inference (opts.inference): only the forward's buffers, sharing a few
--                 slots (a buffer's slot is free again once no later step reads it)
-- Every tensor starts on a 64-byte boundary (offsets padded to 16 floats), so the C
-- structs declare each member _Alignas(64) and their offsets match these numbers.
-- build() returns a new table; the graph and the steps are not changed.
local M = {}

M.ALIGN_FLOATS = 16

local function pad(n) return (n + M.ALIGN_FLOATS - 1) // M.ALIGN_FLOATS * M.ALIGN_FLOATS end
M.pad = pad

-- Inference: the buffers take turns in slots s0, s1, ...: step k reads its input (step k-1's
-- output, or x) and writes z (if fused) and a; z is dead after the step, a after the next.
-- Each buffer gets the first slot not holding the step's input nor its other output; a slot
-- is as large as its largest buffer. Sets b.cname to the slot's member and returns the slots.
local function share_slots(steps_mem)
  local slots = {}
  local function take(busy)
    for i = 1, #slots do
      if not busy[i] then return i end
    end
    slots[#slots + 1] = {cname = "s" .. #slots, floats = 0, holds = {}}
    return #slots
  end
  local input_slot
  for _, m in ipairs(steps_mem) do
    local busy = {}
    if input_slot then busy[input_slot] = true end
    for _, b in ipairs(m.z and {m.z, m.a} or {m.a}) do
      local i = take(busy)
      busy[i] = true
      local sl = slots[i]
      sl.floats = math.max(sl.floats, pad(b.floats))
      sl.holds[#sl.holds + 1] = b
      if not sl.layer then sl.layer = b.layer end
      b.buffer, b.cname = b.cname, sl.cname
      if b == m.a then input_slot = i end
    end
  end
  return slots
end

-- A training build whose forward leaves step s's z unwritten (schedule.decide: s.z_unread)
-- says so; a --dispatch build's public header also names the variants that leave it
-- (by: {[layer] = {isa names}}).
local function unwritten(s, inference, by)
  local who = by and by[s.first]
  if inference or not (s.z_unread or who) then return "" end
  who = s.z_unread and "this build" or "the " .. (#who > 1 and table.concat(who, ", ", 1, #who - 1) .. " and " or "")
    .. who[#who] .. " variant" .. (#who > 1 and "s" or "")
  return ": not written by " .. who .. " (nothing reads it: layer " .. (s.last + 1) .. "'s backward takes the "
    .. s.act.op.title .. "'s derivative from a" .. s.last .. ")"
end

-- Whether a linear or conv step's fused activation whose derivative can be read from its
-- output's sign (gen/ops/relu.lua's grad.output_sign) has the next step's backward read
-- that mask from a, the step's output, instead of z: same bits ([z > 0] = [max(z, 0) > 0],
-- NaN and -0 included), one buffer fewer. Measured on the Xeon (avx512, clang -O2, thread
-- CPU time, alternated processes, load 9-10; 784-256-10 B=256 train_step_scratch, 16
-- rounds): the 256x10 layer's backward 29.4 -> 23.6 us fastest, the step 1285.7 -> 1263.1
-- us fastest, 10th percentile -1.1 %. Relies on no cache size.
M.MASK_FROM_OUTPUT = true

-- Whether the derivative of act (a product's fused activation: {op, opts}) is read from the
-- step's output a, not from z: an activation whose gradient uses its output (tanh,
-- sigmoid), or one whose mask is its output's sign (MASK_FROM_OUTPUT). Then nothing reads z.
function M.mask_from_output(act)
  local grad = act.op.grad
  return grad.uses == "output" or (M.MASK_FROM_OUTPUT and grad.output_sign and grad.output_sign(act.opts)) and true or false
end

-- Row padding: a linear step's buffers (z, a, d) whose rows are a multiple of ROW_PAD_EVERY
-- floats (4 KB) get ROW_PAD_FLOATS more per row (one cache line), so the rows a register
-- tile reads or writes at once (8 on avx512, 6 on avx2: a row stride apart) fall into
-- different L1 sets instead of one. Every kernel takes the row stride from b.ld; the
-- network's output stays dense (NAME_loss reads the caller's out), as does batch 1. Decided
-- from sizes alone, so a --dispatch build's variants share NAME_work's layout. Measured on
-- Zen 5 (EPYC family 26 model 2, avx512 --cpu zen5, clang -O2, fastest of 21 rounds,
-- alternated processes): 784-1024-10 B=64 forward 502 -> 493 us, train step within +-1.5 %;
-- 784-2048-2048-10 forward 3729-3817 -> 3577-3646 us (4 %), step within noise.
M.ROW_PAD_EVERY = 1024
M.ROW_PAD_FLOATS = 16
-- (tried: ROW_PAD_EVERY = 512, 2 KB rows: 784-512-512-10 B=64 on that Zen 5 within +-1 %)
local function row_ld(g, s, last)
  local linear = s.product and s.product.kind == "linear"
  if linear and not last and g.batch > 1 and s.out % M.ROW_PAD_EVERY == 0 then return s.out + M.ROW_PAD_FLOATS end
  return s.out
end

function M.build(g, steps, opts)
  local inference = opts and opts.inference
  local p = {params = {}, work = {}, steps = {}}
  local off = 0
  for _, t in ipairs(g.tensors) do
    local e = {}
    for k, v in pairs(t) do e[k] = v end
    e.offset = off
    off = off + pad(t.floats)
    p.params[#p.params + 1] = e
  end
  p.params_floats = off          -- sizeof(NAME_params) / sizeof(float)

  off = 0
  -- kind "z", "a" or "d" of layer `layer` (inference keeps no gradients)
  local function buffer(kind, layer, cols, what, ld)
    if inference and kind == "d" then return nil end
    ld = ld or cols
    if ld ~= cols then what = what .. " (" .. cols .. " of each row's " .. ld .. " floats used: L1 sets)" end
    local b = {cname = kind .. layer, rows = g.batch, cols = cols, ld = ld, what = what, layer = layer}
    b.floats = b.rows * b.ld
    b.offset = off
    off = off + pad(b.floats)
    p.work[#p.work + 1] = b
    return b
  end
  local prev = {cname = nil, is_input = true, ld = g.input, cols = g.input}
  for k, s in ipairs(steps) do
    -- m: the buffer the step's activation reads its derivative from (its input or output)
    local m = {input = prev}
    local ld = row_ld(g, s, k == #steps)
    if s.product and s.act then
      m.z = buffer("z", s.first, s.out, "layer " .. s.first .. " output " .. s.product.op.summary
        .. " (before the " .. s.act.op.title .. ")" .. unwritten(s, inference, opts and opts.z_unread_by), ld)
      m.a = buffer("a", s.last, s.out, "layer " .. s.last .. " output (after the " .. s.act.op.title .. ")", ld)
      m.act_in = m.z
    elseif s.map and s.act then
      m.a = buffer("a", s.last, s.out, "layer " .. s.last .. " output: layer " .. s.first .. "'s "
        .. s.map.op.summary .. " after the " .. s.act.op.title, ld)
    elseif s.product or s.map then
      m.a = buffer("a", s.last, s.out, "layer " .. s.last .. " output " .. (s.product or s.map).op.summary, ld)
    else
      m.a = buffer("a", s.last, s.out, "layer " .. s.last .. " output " .. s.act.op.summary)
      m.act_in = prev
    end
    if s.act then m.mask = s.act.op.grad.uses == "input" and m.act_in or m.a end
    -- (MASK_FROM_OUTPUT) a product's fused activation whose derivative's mask is its
    -- output's sign bit for bit (grad.output_sign: relu without a shift) gives the mask
    -- from a: the next step's backward reads a there anyway (its weight gradient's x), so
    -- z is one buffer fewer to stream from L2 (784-256-10 B=256 on avx512: 256 KB)
    -- (also schedule.lua MAP_ACT's condition: a map's fused activation reads its mask from a)
    if (s.product or s.map) and s.act and M.mask_from_output(s.act) then m.mask = m.a end
    -- a layer with modes keeps what its training forward found for the backward pass:
    -- batchnorm the batch's mean and 1/sqrt(var + eps) per channel, dropout its mask
    if s.map and s.map.kind == "batchnorm" and not inference then
      m.stats = buffer("s", s.first, s.map.opts.channels, "layer " .. s.first
        .. " batch statistics: mean, then 1/sqrt(var + eps), per channel")
      m.stats.rows, m.stats.floats = 2, 2 * m.stats.ld
      off = m.stats.offset + pad(m.stats.floats)
    elseif s.map and s.map.kind == "dropout" and not inference then
      m.keep = buffer("k", s.first, s.out, "layer " .. s.first .. " dropout mask: 0 or 1/(1 - p)")
    end
    -- gradient with respect to the step's value before its activation (z, or the
    -- activation's input)
    -- (PASS_THROUGH) a standalone activation after a step without one of its own (a
    -- batchnorm, pooling, dropout, flatten or a product without activation): its consumer
    -- applies its derivative, so its backward would copy g unchanged into the gradient of
    -- the step before. Both are one buffer instead (a relu after a batchnorm of 16x28x28:
    -- 3.2 MB copied per step at B=64), and lower.lua emits no backward for the step.
    local before = p.steps[k - 1]
    if not s.product and not s.map and k > 1 and not steps[k - 1].act and before.d
        and before.d.ld == ld and before.d.cols == s.out then
      m.d, m.pass_through = before.d, true
    else
      m.d = buffer("d", s.first, s.out, "gradient of the loss with respect to "
        .. (not s.act and "a" .. s.last or s.product and "z" .. s.first
            or s.map and "layer " .. s.first .. "'s output (before the " .. s.act.op.title .. ")"
            or "layer " .. s.last .. "'s input"), ld)
    end
    p.steps[k] = m
    prev = m.a
  end
  p.output = prev
  -- the dropout generator's state (PCG32: state, increment), set by NAME_seed
  for _, s in ipairs(steps) do
    if s.map and s.map.kind == "dropout" and not inference and not p.rng then
      p.rng = {cname = "rng", rows = 1, cols = 16, ld = 16, floats = 16, offset = off, layer = s.first,
               decl = "uint64_t rng[8]", what = "dropout generator: PCG32 state and increment (the seed function sets them)"}
      off = off + 16
      p.work[#p.work + 1] = p.rng
    end
  end
  -- NAME_train_step's NaN/Inf flag of the gradients (NAME_nonfinite)
  if not inference then
    p.work[#p.work + 1] = {cname = "nonfinite", layer = 0, rows = 1, cols = 16, ld = 16, floats = 16, offset = off,
                           decl = "int nonfinite", what = "set by the train step: 1 when a gradient was NaN or +-Inf"}
    off = off + 16
  end
  p.members = p.work           -- NAME_work's members
  if inference then
    p.members = share_slots(p.steps)
    off = 0
    for _, sl in ipairs(p.members) do
      sl.offset = off
      off = off + sl.floats
      local what = {}
      for k, b in ipairs(sl.holds) do what[k] = b.buffer .. " [" .. b.rows .. "][" .. b.ld .. "]" end
      sl.what = table.concat(what, "; ")
    end
  end
  p.work_floats = off
  p.work_bytes = off * 4
  return p
end

return M
