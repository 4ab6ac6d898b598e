-- Memory plan: where every tensor lives. Three caller-owned structs:
--   params/grads  the parameter tensors (same layout), in spec order
--   work          activations kept for the backward pass and gradients between steps
-- Every tensor starts on a 64-byte boundary (offsets padded to 16 floats), so the C
-- structs declare each member _Alignas(64) and their offsets match these numbers.
local M = {}

M.ALIGN_FLOATS = 16

local function pad(n) return (n + M.ALIGN_FLOATS - 1) // M.ALIGN_FLOATS * M.ALIGN_FLOATS end
M.pad = pad

function M.build(g)
  local p = {params = {}, work = {}}
  local off = 0
  for _, t in ipairs(g.tensors) do
    t.floats = t.rows * t.cols
    t.offset = off
    off = off + pad(t.floats)
    p.params[#p.params + 1] = t
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
  local x = {cname = nil, is_input = true, ld = g.input, cols = g.input}
  local prev = x
  for _, s in ipairs(g.steps) do
    s.input = prev
    if s.kind == "linear_relu" then
      s.z = buffer("z" .. s.first, s.out, "layer " .. s.first .. " output x @ W + b (before the ReLU)")
      s.a = buffer("a" .. s.last, s.out, "layer " .. s.last .. " output (after the ReLU)")
      s.mask = s.z                                  -- dz = da ⊙ [z > 0]
    elseif s.kind == "linear" then
      s.a = buffer("a" .. s.last, s.out, "layer " .. s.last .. " output x @ W + b")
    else
      s.a = buffer("a" .. s.last, s.out, "layer " .. s.last .. " output max(x, 0) + shift")
      s.mask = prev                                 -- dx = da ⊙ [x > 0]
    end
    -- gradient with respect to the step's value before its mask (z, or the relu's input)
    s.d = buffer("d" .. s.first, s.out, "gradient of the loss with respect to "
      .. (s.kind == "linear" and "a" .. s.last or s.kind == "linear_relu" and "z" .. s.first
          or "layer " .. s.last .. "'s input"))
    prev = s.a
  end
  p.output = prev
  p.work_floats = off
  p.work_bytes = off * 4
  return p
end

return M
