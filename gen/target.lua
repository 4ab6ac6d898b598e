-- Which instruction set the generated C is written for.
--
-- An ISA is implemented when a module gen/isa/<name>.lua exists (embedded at build time);
-- its table gives the vector width, the C types and the spelling of each operation, from
-- which the kernels of gen/kernels/ write C (gen/schedule.lua picks the family). `native` means the best implemented ISA that the
-- machine running the generator can execute.
local errors = require "errors"

local M = {}

M.NAMES = {"scalar", "sse2", "avx2", "avx512", "neon", "native"}

-- Preference order for `native`, best first.
local NATIVE_ORDER = {"avx512", "avx2", "sse2", "neon", "scalar"}

local function implemented(name)
  return package.preload["isa." .. name] ~= nil
end

-- The text of /proc/cpuinfo (Linux), or "" elsewhere.
function M.cpuinfo()
  local f = io.open("/proc/cpuinfo", "r")
  if not f then return "" end
  local info = f:read("a") or ""
  f:close()
  return info
end

-- Host CPU features from /proc/cpuinfo; an empty set elsewhere.
local function host_supports(name)
  if name == "scalar" then return true end
  local info = M.cpuinfo()
  local flags = " " .. (info:match("\nflags%s*:([^\n]*)") or info:match("^flags%s*:([^\n]*)") or "") .. " "
  local features = " " .. (info:match("\nFeatures%s*:([^\n]*)") or "") .. " "
  if name == "sse2" then return flags:find(" sse2 ") and true or false end
  if name == "avx2" then return flags:find(" avx2 ") and flags:find(" fma ") and true or false end
  if name == "avx512" then return flags:find(" avx512f ") and true or false end
  if name == "neon" then return (features:find(" asimd ") or features:find(" neon ")) and true or false end
  return false
end

M.host_supports = host_supports

-- resolve(name, where) -> the ISA table. `where` prefixes the user error message
-- ("chainrule" for --isa, "FILE:LINE: isa" for the spec's field).
function M.resolve(name, where)
  local known = false
  for _, n in ipairs(M.NAMES) do if n == name then known = true end end
  if not known then
    errors.user(where .. ": unknown isa '" .. tostring(name) .. "'" .. errors.suggest(name, M.NAMES)
      .. " (one of " .. table.concat(M.NAMES, ", ") .. ")")
  end
  if name == "native" then
    for _, n in ipairs(NATIVE_ORDER) do
      if implemented(n) and host_supports(n) then return require("isa." .. n) end
    end
  end
  if not implemented(name) then
    errors.user(where .. ": isa '" .. name .. "' is not implemented yet")
  end
  return require("isa." .. name)
end

return M
