-- Unit tests of the generator's Lua modules, run inside the binary:
--   build/chainrule selftest tests/gen/unit.lua
-- Prints "unit: N checks passed" and returns 0, or raises with the first failure.
local emit = require "emit"
local template = require "template"
local errors = require "errors"
local plan = require "plan"

local checks = 0
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

print(string.format("unit: %d checks passed", checks))
return 0
