-- Memory plan: where every tensor lives, for the graph and the schedule's steps. Three
-- caller-owned structs:
--   params/grads  the parameter tensors (same layout), in spec order
--   work          activations kept for the backward pass and gradients between steps
-- Every tensor starts on a 64-byte boundary (offsets padded to 16 floats), so the C
-- structs declare each member _Alignas(64) and their offsets match these numbers.
-- build() returns a new table; the graph and the steps are not changed.
local M = {}

M.ALIGN_FLOATS = 16

local function pad(n) return (n + M.ALIGN_FLOATS - 1) // M.ALIGN_FLOATS * M.ALIGN_FLOATS end
M.pad = pad

function M.build(g, steps)
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
  local function buffer(cname, cols, what)
    local b = {cname = cname, rows = g.batch, cols = cols, ld = cols, what = what}
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
    if s.product and s.act then
      m.z = buffer("z" .. s.first, s.out, "layer " .. s.first .. " output " .. s.product.op.summary
        .. " (before the " .. s.act.op.title .. ")")
      m.a = buffer("a" .. s.last, s.out, "layer " .. s.last .. " output (after the " .. s.act.op.title .. ")")
      m.act_in = m.z
    elseif s.product then
      m.a = buffer("a" .. s.last, s.out, "layer " .. s.last .. " output " .. s.product.op.summary)
    else
      m.a = buffer("a" .. s.last, s.out, "layer " .. s.last .. " output " .. s.act.op.summary)
      m.act_in = prev
    end
    if s.act then m.mask = s.act.op.grad.uses == "input" and m.act_in or m.a end
    -- gradient with respect to the step's value before its activation (z, or the
    -- activation's input)
    m.d = buffer("d" .. s.first, s.out, "gradient of the loss with respect to "
      .. (not s.act and "a" .. s.last or s.product and "z" .. s.first or "layer " .. s.last .. "'s input"))
    p.steps[k] = m
    prev = m.a
  end
  p.output = prev
  p.work_floats = off
  p.work_bytes = off * 4
  return p
end

return M
