-- C text helpers: the one place that spells a float literal, a macro prefix, a
-- comment-safe string or a banner table. Nothing here knows about networks.
local M = {}

-- The nearest fp32 value to x (as a Lua float).
function M.to_f32(x)
  return (string.unpack("<f", string.pack("<f", x)))
end

-- A C float literal that reads back to exactly the fp32 value nearest to x: the
-- shortest of %.1g .. %.9g that round-trips (%.9g always does for fp32).
function M.float(x)
  assert(type(x) == "number", "float literal of a non-number")
  local f = M.to_f32(x)
  assert(f == f and f ~= math.huge and f ~= -math.huge, "float literal of a non-finite value")
  if f == 0 then
    return (1 / f < 0) and "-0.0f" or "0.0f"
  end
  local bits = string.pack("<f", f)
  for digits = 1, 9 do
    local s = string.format("%." .. digits .. "g", f)
    if string.pack("<f", tonumber(s)) == bits then
      if not s:find("[.eEn]") then s = s .. ".0" end
      return s .. "f"
    end
  end
  error("no round-tripping literal for " .. tostring(x))
end

-- The same number for prose (comments, banners): the literal without its suffix.
function M.number(x)
  return (M.float(x):gsub("f$", ""):gsub("%.0$", ""))
end

-- Upper-case macro prefix of a network name.
function M.upper(name)
  return (name:upper())
end

-- A user string (a spec path, a banner row) as text that cannot end or change the C
-- block comment it is put in, nor the lines around it: control bytes (a newline, a
-- carriage return, ...) become \ooo, "*/" and "/*" get a space, "??" (a trigraph's start
-- under -std=c11: "??/" is a backslash, so "*??/" + newline + "/" would be a "*/") gets
-- one too, and a final backslash (it would splice the next line) is followed by a space.
-- Text without those bytes comes back unchanged.
function M.comment_text(s)
  s = tostring(s):gsub("[%c\127]", function(c) return string.format("\\%03o", string.byte(c)) end)
  s = s:gsub("%*/", "* /"):gsub("/%*", "/ *")
  while s:find("??", 1, true) do s = s:gsub("%?%?", "? ?") end
  if s:sub(-1) == "\\" then s = s .. " " end
  return s
end

-- The contents of a C string literal (without the quotes) holding exactly the bytes of s:
-- backslash, double quote and '?' (trigraphs) escaped, control bytes and bytes >= 0x7f as
-- three-digit octal escapes (an octal escape takes at most three digits, so a digit after
-- it stays a digit; and clang rejects invalid UTF-8 in a literal under -Werror). Other
-- printable ASCII comes back unchanged.
function M.c_string(s)
  return (tostring(s):gsub('[\\"?%c\127-\255]', function(c)
    if c == "\\" or c == '"' or c == "?" then return "\\" .. c end
    return string.format("\\%03o", string.byte(c))
  end))
end

-- Integer with thousands separators, for banner tables.
function M.grouped(n)
  local s = tostring(math.tointeger(n) or n)
  local sign, digits = s:match("^(-?)(%d+)$")
  if not digits then return s end
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end

-- Lines of a fixed-width text table: rows is a list of lists of strings; columns after
-- the first are right-aligned.
function M.table(rows)
  local widths = {}
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do widths[i] = math.max(widths[i] or 0, #c) end
  end
  local out = {}
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(r) do
      if i == 1 then cells[i] = c .. string.rep(" ", widths[i] - #c)
      else cells[i] = string.rep(" ", widths[i] - #c) .. c end
    end
    out[#out + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
  end
  return out
end

-- A line buffer with two-space indentation, for building C function bodies:
-- b.put(depth, line) appends, b.text() joins with a final newline.
function M.buffer()
  local b = {lines = {}}
  function b.put(depth, s) b.lines[#b.lines + 1] = string.rep("  ", depth) .. s end
  function b.text() return table.concat(b.lines, "\n") .. "\n" end
  return b
end

return M
