-- Shared tile functions (compact mode, gen/kernels/tiled.lua): a register tile becomes a
-- `static` function whose pointers, strides and counts are arguments, and the tile's place
-- in the layer's function a call. Two tiles whose functions have the same text are one
-- function, so the code grows with the distinct tile shapes (rows x vectors x product x
-- tail lanes), not with the layers: the 16 odd widths 1001..1029 of a deep net differ only
-- in their tails, and their whole tiles are one function per product. The operations and
-- their order are those of the inline tile: the same bits.
--
-- lower.lua calls reset() before the steps are written and definitions() after, and puts
-- the definitions before the step functions that call them (only the used ones exist).
-- Also the vector geometry the kernel modules share (vectors), kept here since
-- kernels/tiled.lua requires kernels/stream.lua and both need it.
local emit = require "emit"

local M = {}

-- The vectors that cover `count` floats: {off = first float, lanes = floats used}.
function M.vectors(count, width)
  local v = {}
  for off = 0, count - 1, width do
    v[#v + 1] = {off = off, lanes = math.min(width, count - off)}
  end
  return v
end

-- The ISA's index vector (isa.index, for its gather/scatter) of lane r at r * stride, and its
-- C type: V rows of a row-major array with that row stride.
function M.row_index(isa, stride)
  local idx = {}
  for r = 0, isa.width - 1 do idx[#idx + 1] = tostring(r * stride) end
  return isa.index(idx)
end

local defs, by_text = {}, {}

M.NOINLINE = "#if defined(__GNUC__)\n__attribute__((noinline))\n#endif\n"

-- For gcc alone (clang defines __GNUC__ too, and its code stays as it was): once a
-- weight-gradient kernel with the update in its tiles is inlined into the train step, where
-- the step's vopt_k is a local, gcc keeps every constant of the update in a register across
-- the tile loops and spills accumulators inside them instead (784-50-10 B=64 AdamW on avx512:
-- 8 reloads and stores per row of the tile), so those kernels are kept out of line.
M.GCC_NOINLINE = "#if defined(__GNUC__) && !defined(__clang__)\n__attribute__((noinline))\n#endif\n"

-- (gcc >= 8 alone) The loop on the next line written out n times: gcc -O2 keeps the folded
-- tail's V-lane copy loops of matmul_xtg (dW[(k0 + l % R) * N + ...] = tt[l], the gathers of
-- the weights and states around the update) as loops with an imul and a branch per lane,
-- where clang unrolls them (784-50-10 B=64 avx2, SGD with momentum: +5.0 % -> +1.8 % over
-- clang's step).
function M.gcc_unroll(n)
  return "#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8\n#pragma GCC unroll " .. n .. "\n#endif"
end

function M.reset() defs, by_text = {}, {} end

-- The static functions written since reset(), in order of first use ("" when none).
function M.definitions() return table.concat(defs, "\n") end
function M.count() return #defs end

-- A parameter of a shared tile: C type, its name inside the tile, the caller's value.
-- A value that is a C expression of the caller's is passed as it is.
function M.param(ctype, name, value) return {ctype = ctype, name = name, value = value} end

-- The parameters of pointers `cs` (const float, restrict) and `ms` (float, restrict),
-- each passed under its own name (nil entries skipped), as a list. A name given twice is
-- one parameter, writable if it is in ms (matmul_xw's y and a when z is unread).
function M.pointers(cs, ms)
  local ps, seen, mut = {}, {}, {}
  for i = 1, 8 do if ms[i] then mut[ms[i]] = true end end
  for i = 1, 8 do
    local c = cs[i]
    if c and not mut[c] and not seen[c] then seen[c] = true; ps[#ps + 1] = M.param("const float *restrict", c, c) end
  end
  for i = 1, 8 do
    local m = ms[i]
    if m and not seen[m] then seen[m] = true; ps[#ps + 1] = M.param("float *restrict", m, m) end
  end
  return ps
end

-- Appends int parameters {name, value} (those with a nil value skipped) to ps.
function M.ints(ps, list)
  for _, nv in ipairs(list) do
    if nv[2] ~= nil then ps[#ps + 1] = M.param("int", nv[1], nv[2]) end
  end
  return ps
end

-- Emits at depth d of b the call of the shared function whose body body(bb, 1) writes
-- (statements or a block, using only the parameters' names); the function is named
-- PREFIX_tileN and written once per distinct text.
function M.call(b, d, prefix, params, body)
  local bb = emit.buffer()
  body(bb, 1)
  local body_text = bb.text()
  if body_text:sub(1, 3) == "  {" then
    -- a block already: one level less of indentation
    body_text = body_text:gsub("\n  ", "\n"):sub(3)
  else
    body_text = "{\n" .. body_text .. "}\n"
  end
  -- only the parameters the body uses (-Wunused-parameter), in the order given
  local sig, args = {}, {}
  for _, p in ipairs(params) do
    if body_text:find("%f[%w_]" .. p.name .. "%f[^%w_]") then
      sig[#sig + 1] = p.ctype .. (p.ctype:sub(-1) == "*" and "" or " ") .. p.name
      args[#args + 1] = tostring(p.value)
    end
  end
  local text = "(" .. table.concat(sig, ", ") .. ")\n" .. body_text
  local name = by_text[text]
  if not name then
    name = prefix .. "_tile" .. #defs
    by_text[text] = name
    -- kept out of line: inlined back into each caller, it would cost the compiler as much
    -- as the copies it replaces
    defs[#defs + 1] = M.NOINLINE .. "static void " .. name .. text
  end
  b.put(d, name .. "(" .. table.concat(args, ", ") .. ");")
end

return M
