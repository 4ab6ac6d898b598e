-- User errors: a bad spec or flag is the user's fault and gets one line, no traceback.
-- They travel as tables {message = "..."}; the host (gen/main.c) prints the message and
-- exits with status 2. Any other error is a generator bug: traceback, status 1.
local M = {}

local mt = {__tostring = function(e) return e.message end}

-- Messages stay one line of sane length, whatever a spec put into them.
-- (This file is also called while a spec runs, when string methods reach the sandbox's
-- string table: it calls the string library explicitly, never s:method().)
function M.user(message)
  message = string.gsub(tostring(message), "[\r\n]+", " ")
  if #message > 400 then message = string.sub(message, 1, 400) .. "..." end
  error(setmetatable({message = message}, mt), 0)
end

-- "FILE:LINE: where: what", leaving out the parts that are unknown.
function M.at(file, line, where, what)
  local s = file
  if line and line > 0 then s = s .. ":" .. line end
  s = s .. ": "
  if where and where ~= "" then s = s .. where .. ": " end
  M.user(s .. what)
end

function M.is_user(e)
  return type(e) == "table" and getmetatable(e) == mt
end

-- Levenshtein distance, for "did you mean" suggestions.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = string.byte(a, i) == string.byte(b, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- Bounds of a suggestion: the edit distance is quadratic, so a word longer than any name
-- we could suggest (a multi-megabyte string from a spec) gets none, and only the first
-- SUGGEST_MAX_CANDIDATES candidates are looked at.
M.SUGGEST_MAX_WORD = 64
M.SUGGEST_MAX_CANDIDATES = 64

-- " (did you mean 'x'?)" for the closest candidate within a small distance, else "".
-- candidates is a list (not a hash) so that ties resolve the same way every run.
function M.suggest(word, candidates)
  if type(word) ~= "string" or #word > M.SUGGEST_MAX_WORD then return "" end
  local best, bestd
  for i, c in ipairs(candidates) do
    if i > M.SUGGEST_MAX_CANDIDATES then break end
    local d = distance(string.lower(word), string.lower(c))
    if not bestd or d < bestd then best, bestd = c, d end
  end
  if best and bestd <= math.max(1, math.min(3, #word // 3 + 1)) then
    return " (did you mean '" .. best .. "'?)"
  end
  -- a candidate after an underscore at the word's end: PyTorch's negative_slope for slope
  -- (not any word containing one: padding_mode is not padding, hardtanh not tanh)
  local lw, long = string.lower(word), nil
  for i, c in ipairs(candidates) do
    if i > M.SUGGEST_MAX_CANDIDATES then break end
    local lc = string.lower(c)
    if #lc >= 3 and #lw > #lc + 1 and string.sub(lw, -#lc - 1) == "_" .. lc and (not long or #c > #long) then
      long = c
    end
  end
  return long and " (did you mean '" .. long .. "'?)" or ""
end

-- suggest's "did you mean", else the candidates themselves: " (OPTIONS: a, b, c)", or
-- " (it takes none)" for an empty list.
function M.suggest_or_list(word, candidates, what)
  local s = M.suggest(word, candidates)
  if s ~= "" then return s end
  if #candidates == 0 then return " (it takes none)" end
  local shown = {}
  for i = 1, math.min(#candidates, M.SUGGEST_MAX_CANDIDATES) do shown[i] = candidates[i] end
  return " (" .. what .. ": " .. table.concat(shown, ", ") .. (#candidates > #shown and ", ..." or "") .. ")"
end

return M
