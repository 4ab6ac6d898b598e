-- Vector tanh and sigmoid for the SIMD ISAs, written once from the ISA's primitives (add,
-- mul, fma, div, max, blend_pos and the softmax's exp, gen/isa/*.lua), as one static inline
-- function per function and vector width in NAME.c (simd_tanh512, simd_sigmoid256, ...),
-- emitted only where a layer uses it. The scalar ISA keeps libm's tanhf and expf; the vector
-- forms are within a few ulp of the exact value (tests/isa/act_ulp.c measures them on every
-- SIMD ISA), so a SIMD build and the scalar one differ in the last bits, as the softmax's
-- vector exp already made them.
--
-- sigmoid(x) = 1 / (1 + e^-x): IEEE division, e^-x by the ISA's exp (clamped to [-104, 88.8]
--   there: x = -inf gives 1 / inf = 0, x = +inf gives 1, NaN stays NaN).
-- tanh(x): for |x| < TANH_SMALL, x (1 + x^2 P(x^2)), P the coefficients TANH_SERIES of
--   tanh's Taylor series after x (truncation < 0.1 ulp there; odd, so the sign of zero is
--   kept); else sign(x) (1 - 2 / (e^2|x| + 1)), which is 1 once e^2|x| is infinite. NaN fails
--   the |x| < TANH_SMALL test and goes through the exp.
local emit = require "emit"

local M = {}

M.TANH_SMALL = 0.55
-- tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 + ... (the coefficients 2^2n (2^2n - 1) B_2n / (2n)!)
M.TANH_SERIES = {-1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075,
                 -929569 / 638512875, 6404582 / 10854718875}

-- The helper's name for isa: "simd_tanh512".
function M.name(isa, fn)
  return "simd_" .. fn .. (32 * isa.width)
end

-- f(v) as a call of the helper (nil on the scalar ISA or one without exp).
function M.call(isa, fn, v)
  if isa.width == 1 or not isa.exp then return nil end
  return M.name(isa, fn) .. "(" .. v .. ")"
end

local function head(isa, fn)
  return "static inline __attribute__((unused)) " .. isa.vtype .. " " .. M.name(isa, fn) .. "(" .. isa.vtype .. " x) {"
end

local BODY = {
  sigmoid = function(isa)
    local one = isa.broadcast("1.0f")
    return {"  return " .. isa.div(one, isa.add(one, isa.exp(isa.sub(isa.zero(), "x")))) .. ";"}
  end,
  tanh = function(isa)
    local c = function(x) return isa.broadcast(emit.float(x)) end
    local s = M.TANH_SERIES
    local out = {
      "  const " .. isa.vtype .. " u = " .. isa.mul("x", "x") .. ", a = " .. isa.max("x", isa.sub(isa.zero(), "x")) .. ";",
      "  " .. isa.vtype .. " p = " .. c(s[#s]) .. ";",
    }
    for i = #s - 1, 1, -1 do out[#out + 1] = "  p = " .. isa.fma("p", "u", c(s[i])) .. ";" end
    -- (x times 1 + u P: x + x u P would give +0 for x = -0)
    out[#out + 1] = "  const " .. isa.vtype .. " small = " .. isa.mul("x", isa.fma("u", "p", c(1))) .. ";"
    out[#out + 1] = "  const " .. isa.vtype .. " t = " .. isa.sub(c(1), isa.div(c(2), isa.add(isa.exp(isa.add("a", "a")), c(1)))) .. ";"
    out[#out + 1] = "  return " .. isa.blend_pos(isa.sub(c(M.TANH_SMALL), "a"), "small",
      isa.blend_pos("x", "t", isa.sub(isa.zero(), "t"))) .. ";"
    return out
  end,
}

-- The C text of the helper of fn ("tanh" or "sigmoid") for isa.
function M.helper(isa, fn)
  local lines = {head(isa, fn)}
  for _, l in ipairs(BODY[fn](isa)) do lines[#lines + 1] = l end
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

-- The helpers the layers' activations call on isa (ops with a `vector_math` field naming
-- theirs), each once, in a fixed order; nil when there are none.
function M.helpers(isa, ops)
  if isa.width == 1 or not isa.exp then return nil end
  local want, out = {}, {}
  for _, op in ipairs(ops) do if op.vector_math then want[op.vector_math] = true end end
  for _, fn in ipairs({"sigmoid", "tanh"}) do
    if want[fn] then out[#out + 1] = M.helper(isa, fn) end
  end
  return #out > 0 and table.concat(out, "\n") or nil
end

return M
