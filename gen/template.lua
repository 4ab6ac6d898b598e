-- The template engine. A template is C text with two additions:
--   * a line whose first non-blank character is '@' is Lua code (the rest of the line);
--   * elsewhere $(expr) splices tostring(expr), and $$ is a literal '$'.
-- A template compiles once to a Lua function. Each template line becomes exactly one
-- line of that function, so Lua reports errors at the template's own NAME:LINE.
local M = {}

-- Splits a text line into a Lua expression that builds it.
local function text_line(name, lineno, line)
  local parts, pos, lit = {}, 1, {}
  local function flush()
    if #lit > 0 then
      -- %q writes a newline as a backslash and a real newline: keep it on one line
      parts[#parts + 1] = (string.format("%q", table.concat(lit)):gsub("\\\n", "\\n"))
      lit = {}
    end
  end
  while pos <= #line do
    local c = line:sub(pos, pos)
    if c == "$" and line:sub(pos + 1, pos + 1) == "$" then
      lit[#lit + 1] = "$"; pos = pos + 2
    elseif c == "$" and line:sub(pos + 1, pos + 1) == "(" then
      -- find the matching ')', skipping quoted strings
      local depth, i, quote = 0, pos + 1, nil
      while i <= #line do
        local ch = line:sub(i, i)
        if quote then
          if ch == "\\" then i = i + 1 elseif ch == quote then quote = nil end
        elseif ch == '"' or ch == "'" then quote = ch
        elseif ch == "(" then depth = depth + 1
        elseif ch == ")" then
          depth = depth - 1
          if depth == 0 then break end
        end
        i = i + 1
      end
      if depth ~= 0 then error(name .. ":" .. lineno .. ": unclosed $( in template", 0) end
      flush()
      parts[#parts + 1] = "_str(" .. line:sub(pos + 2, i - 1) .. ")"
      pos = i + 1
    else
      lit[#lit + 1] = c; pos = pos + 1
    end
  end
  lit[#lit + 1] = "\n"
  flush()
  return "_put(" .. table.concat(parts, " .. ") .. ")"
end

-- compile(name, text) -> render(vars) -> string. Names not in vars fall back to Lua's
-- globals; an unknown name is an error at the template line that used it. A code line
-- `@ include("x.tpl")` splices the template x.tpl rendered with the same vars.
function M.compile(name, text)
  local src = {}
  local lineno = 0
  for line in (text:sub(-1) == "\n" and text or text .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    local code = line:match("^%s*@(.*)$")
    src[lineno] = code or text_line(name, lineno, line)
  end
  src[1] = "local _ENV, _put, _str = ...; " .. (src[1] or "")
  local fn, err = load(table.concat(src, "\n"), "=" .. name, "t")
  if not fn then error(err, 0) end
  return function(vars)
    local out = {}
    local function put(s) out[#out + 1] = s end
    local function include(fragment) put(M.render(fragment, vars)) end
    local env = setmetatable({}, {__index = function(_, k)
      if k == "include" then return include end
      local v = vars[k]
      if v == nil then v = _G[k] end
      if v == nil then error("undefined template variable '" .. tostring(k) .. "'", 2) end
      return v
    end})
    local function str(v)
      if v == nil then error("template splices nil", 2) end
      return tostring(v)
    end
    fn(env, put, str)
    return table.concat(out)
  end
end

-- Renders the embedded template `name` (from templates/) with vars.
local cache = {}
function M.render(name, vars)
  if not cache[name] then
    local text = host.template(name)
    if not text then error("template '" .. name .. "' is not embedded in this chainrule", 0) end
    cache[name] = M.compile(name, text)
  end
  return cache[name](vars)
end

return M
