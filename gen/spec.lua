-- Spec loading and validation: a spec file -> a plain, checked network description.
--
-- The spec is Lua, loaded as text only and run in a sandbox whose environment holds the
-- DSL words and copies of the safe parts of math/string/table; no io, os, require, load,
-- debug, metatables or pcall. It runs under an instruction limit and a memory limit
-- (host.run_limited in gen/main.c). DSL calls only record their arguments and line;
-- everything is checked afterwards, so errors can name where in the network they are.
-- Every mistake raises a user error "FILE:LINE: where: what".
local errors = require "errors"
local target = require "target"
local ops = require "ops"
local names = require "names"

local M = {}

M.MAX_INSTRUCTIONS = 10000000
M.MAX_BYTES = 64 * 1024 * 1024
M.MAX_SECONDS = 2            -- wall clock, for C work inside instructions
M.MAX_SPEC_BYTES = 1 << 20   -- the spec file itself (read before anything is compiled)
M.MAX_KEYS = 1000            -- entries of one table a message may list or sort
M.MAX_SORT = 100000          -- elements a spec may table.sort
M.MAX_SPAN = 1 << 22         -- elements a spec may table.move / shift with insert/remove
M.MAX_FIND = 100000000       -- #s × #pattern a spec may string.find
M.MAX_DIM = 1 << 20          -- features in or out of one layer
M.MAX_BATCH = 1 << 16
M.MAX_LAYERS = 256
M.MAX_PARAMS = 1 << 26       -- floats over all parameter tensors
M.MAX_ROWS_FLOATS = 1 << 26  -- batch × width of any activation (int indexing in the C)
M.MAX_CODE_BUDGET = 1 << 20  -- multiply-adds a spec may ask to be written out as straight-line code
M.DEFAULT_CODE_BUDGET = 256  -- default: small enough that -fsanitize=undefined builds stay quick

M.LOSSES = {"mse", "cross_entropy"}
M.OPTIMIZERS = {"sgd", "adam", "adamw"}

local NETWORK_FIELDS = {"input", "layers", "loss", "batch", "optimizer", "schedule", "isa", "code_budget"}
-- Learning-rate schedules (torch.optim.lr_scheduler semantics, run by the trainer: see
-- trainer/train_sched.c, which checks --schedule with the same keys and ranges). Each key:
-- {name, kind of value}; the trainer gets the schedule as "KIND:key=value,...".
M.SCHEDULES = {"step", "cosine", "onecycle"}
local SCHEDULE_KEYS = {
  step = {{"step_size", "epochs"}, {"gamma", "pos"}},
  cosine = {{"t_max", "epochs"}, {"eta_min", "nonneg"}},
  onecycle = {{"max_lr", "pos"}, {"epochs", "epochs"}, {"pct_start", "frac"}, {"anneal", "anneal"},
              {"cycle_momentum", "bool"}, {"base_momentum", "unit"}, {"max_momentum", "unit"},
              {"div_factor", "pos"}, {"final_div_factor", "pos"}, {"three_phase", "bool"}},
}
local OPT_OPTIONS = {
  sgd = {"lr", "momentum", "dampening", "nesterov", "weight_decay"},
  adam = {"lr", "beta1", "beta2", "eps", "weight_decay"},
  adamw = {"lr", "beta1", "beta2", "eps", "weight_decay"},
}
local OPT_DEFAULTS = {
  sgd = {momentum = 0, dampening = 0, nesterov = false, weight_decay = 0},
  adam = {lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0},
  adamw = {lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01},
}

-- Names a spec might reach for that the sandbox leaves out on purpose.
local FORBIDDEN = {io = true, os = true, require = true, load = true, loadstring = true,
  loadfile = true, dofile = true, debug = true, package = true, collectgarbage = true,
  setmetatable = true, getmetatable = true, rawget = true, rawset = true, rawequal = true,
  rawlen = true, pcall = true, xpcall = true, coroutine = true, print = true, utf8 = true,
  _G = true}

local C_KEYWORDS = {}
for w in ([[auto break case char const continue default do double else enum extern float
  for goto if inline int long register restrict return short signed sizeof static struct
  switch typedef union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex
  _Generic _Imaginary _Noreturn _Static_assert _Thread_local]]):gmatch("%S+") do
  C_KEYWORDS[w] = true
end

local function contains(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

local function quoted(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = "'" .. v .. "'" end
  return table.concat(t, ", ")
end

-- How a user value reads in a message.
local function show(v)
  local t = type(v)
  if t == "string" then return "'" .. v .. "'" end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" elseif v == -math.huge then return "-inf" end
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
    for digits = 1, 17 do   -- the shortest form that reads back as v
      local str = string.format("%." .. digits .. "g", v)
      if tonumber(str) == v then return str end
    end
  end
  if t == "nil" or t == "boolean" then return tostring(v) end
  return "a " .. t
end
M.show = show

-- Finite as an fp32 (every number a spec gives ends up as a float in the C).
local FLT_MAX = 3.4028234663852886e38
local function finite(v)
  return type(v) == "number" and v == v and v >= -FLT_MAX and v <= FLT_MAX
end

local function is_int(v)
  return finite(v) and v == math.floor(v)
end

-- Sorted keys of a user table: error messages must not depend on hash order. A table of
-- more than MAX_KEYS entries is refused through too_many(count) before anything is sorted.
local function sorted_keys(t, too_many)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
    if #keys > M.MAX_KEYS then too_many(M.MAX_KEYS) end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return false
  end)
  return keys
end

-- A copy of a library table without the names in skip.
local function copy(lib, skip)
  local t = {}
  for k, v in pairs(lib) do if not skip[k] then t[k] = v end end
  return t
end

-- The sandbox's string and table libraries: copies with the calls that run in C outside
-- the instruction count (pattern matching, sorting, moves over counts not backed by
-- memory) refused or bounded. caller_line() gives the spec line of the call.
local function guard_libraries(env, file, caller_line)
  -- Pattern matching runs in C, outside the instruction count, and can backtrack for
  -- ages: a spec gets plain find only. (Methods on strings see this table too: run()
  -- points the string metatable at it while the spec runs.)
  env.string = copy(string, {dump = true, find = true, match = true, gmatch = true, gsub = true})
  local real_find = string.find
  function env.string.find(s, pattern, init, plain)
    if not plain then
      errors.at(file, caller_line(), nil, "string patterns are not available in a spec "
        .. "(string.find(s, p, init, true) searches for plain text)")
    end
    if type(s) == "string" and type(pattern) == "string" and #s * #pattern > M.MAX_FIND then
      errors.at(file, caller_line(), nil, "string.find is limited to #s × #pattern <= " .. M.MAX_FIND .. " in a spec")
    end
    return real_find(s, pattern, init, true)
  end
  -- string.rep("", huge) loops in C without allocating: no memory limit stops it.
  local real_rep = string.rep
  function env.string.rep(s, n, sep)
    if type(s) == "string" and #s == 0 and (sep == nil or sep == "") then return "" end
    return real_rep(s, n, sep)
  end
  for _, k in ipairs({"match", "gmatch", "gsub"}) do
    env.string[k] = function()
      errors.at(file, caller_line(), nil, "string patterns are not available in a spec (string." .. k .. ")")
    end
  end
  env.table = copy(table, {})
  -- Sorting runs in C, outside the instruction count: keep it small.
  local real_sort = table.sort
  function env.table.sort(t, cmp)
    if type(t) == "table" and #t > M.MAX_SORT then
      errors.at(file, caller_line(), nil, "table.sort is limited to " .. M.MAX_SORT .. " elements in a spec")
    end
    return real_sort(t, cmp)
  end
  -- These loop in C over a count that need not be backed by memory (nil elements, or
  -- the border # of a sparse table): bound the count.
  local function span(what, count, line)
    if type(count) == "number" and count > M.MAX_SPAN then
      errors.at(file, line, nil, what .. " is limited to " .. M.MAX_SPAN .. " elements in a spec")
    end
  end
  local real_move, real_insert, real_remove = table.move, table.insert, table.remove
  function env.table.move(a1, f, e, t, a2)
    if type(f) == "number" and type(e) == "number" then span("table.move", e - f + 1, caller_line()) end
    return real_move(a1, f, e, t, a2)
  end
  function env.table.insert(t, ...)
    if type(t) == "table" then span("table.insert", #t, caller_line()) end
    return real_insert(t, ...)
  end
  function env.table.remove(t, ...)
    if type(t) == "table" then span("table.remove", #t, caller_line()) end
    return real_remove(t, ...)
  end
end

-- The sandbox environment and the DSL. `made` remembers which values the DSL created,
-- so a spec cannot pass off a hand-built table as a layer.
local function make_env(file)
  local made = setmetatable({}, {__mode = "k"})
  -- Line of the spec code that called the DSL word running now (level 1 is the word).
  local function caller_line()
    local info = debug.getinfo(3, "l")
    return info and info.currentline or 0
  end
  local function mk(kind, fields, line)
    fields.tag = kind
    fields.line = line
    made[fields] = true
    return fields
  end
  local env = {}
  for _, k in ipairs({"assert", "error", "ipairs", "next", "pairs", "select", "tonumber",
                      "tostring", "type"}) do
    env[k] = _G[k]
  end
  env.unpack = table.unpack
  env.math = copy(math, {random = true, randomseed = true})
  guard_libraries(env, file, caller_line)

  -- one word per op of the registry (gen/ops.lua), recording its arguments
  for _, op in ipairs(ops.all()) do
    if op.args[1] == "size" then
      env[op.word] = function(size, opts, ...)
        local line = caller_line()
        return mk(op.word, {size = size, opts = opts, extra = select("#", ...)}, line)
      end
    else
      env[op.word] = function(opts, ...)
        local line = caller_line()
        return mk(op.word, {opts = opts, extra = select("#", ...)}, line)
      end
    end
  end
  -- sgd{...}, onecycle{...}, ...: a value of the network's optimizer or schedule field
  for _, group in ipairs({{"optimizer", M.OPTIMIZERS}, {"schedule", M.SCHEDULES}}) do
    for _, kind in ipairs(group[2]) do
      env[kind] = function(opts, ...)
        local line = caller_line()
        return mk(group[1], {kind = kind, opts = opts, extra = select("#", ...)}, line)
      end
    end
  end
  function env.network(name)
    local line = caller_line()
    return function(body)
      return mk("network", {name = name, body = body}, line)
    end
  end
  local words = {"network"}
  for _, w in ipairs(ops.words()) do words[#words + 1] = w end
  for _, w in ipairs(M.SCHEDULES) do words[#words + 1] = w end
  for _, w in ipairs({"sgd", "adam", "adamw", "math", "string", "table", "ipairs", "pairs", "tonumber",
                      "tostring", "type", "select", "assert", "error", "next", "unpack"}) do
    words[#words + 1] = w
  end
  setmetatable(env, {__index = function(_, k)
    local line = caller_line()
    if FORBIDDEN[k] then
      errors.at(file, line, nil, "'" .. tostring(k) .. "' is not available in a spec "
        .. "(a spec may only describe a network)")
    end
    errors.at(file, line, nil, "unknown name " .. show(k) .. errors.suggest(k, words))
  end})
  return env, made
end

-- The sandbox's chunk name and the prefix Lua puts on its messages for it ("src:").
local function lua_prefix(chunkname)
  local f = load("return", chunkname, "t", {})
  return debug.getinfo(f, "S").short_src .. ":"
end

-- Rewrites "short_src:LINE: msg" (Lua's own position) to "FILE:LINE: msg".
local function relocate(msg, prefix, file)
  if type(msg) ~= "string" then return nil end
  if msg:sub(1, #prefix) == prefix then
    local line, rest = msg:sub(#prefix + 1):match("^(%d+): (.*)$")
    if line then return tonumber(line), rest end
  end
  return nil
end

-- Loads and runs the spec; returns its value, the DSL marker set and the source text.
-- A message from Lua or a guarded library call, in the spec's terms: the generator's own
-- positions ("gen/spec.lua:169: ") and the names of its wrappers ('real_move') never reach
-- the user.
local function scrub(msg)
  msg = msg:gsub("gen/[%w_/]+%.lua:%d+: ", ""):gsub("'real_(%w+)'", "'%1'")
  return (msg:gsub("%s*stack traceback:.*$", ""))   -- never a traceback
end

-- The spec's text: the reader policy of the runtime (a regular file only, the open never
-- blocks: a FIFO, /dev/zero or a directory is refused at once) and at most MAX_SPEC_BYTES,
-- checked while reading. A UTF-8 byte-order mark and a first line starting with '#' (a
-- shebang) are accepted as the lua program accepts them (the line is blanked, so line
-- numbers stay).
local function read_spec(path)
  local text, err = host.read_plain(path, M.MAX_SPEC_BYTES)
  if not text then
    local reason = err:match(": cannot open: (.*)$")
    if reason then errors.user(path .. ": cannot read spec: " .. reason) end
    if err:match("longer than the limit") then
      errors.user(string.format("%s: spec is larger than %d KB (a spec only describes a network)",
        path, M.MAX_SPEC_BYTES >> 10))
    end
    errors.user(err)
  end
  if text:sub(1, 3) == "\239\187\191" then text = text:sub(4) end
  if text:sub(1, 1) == "#" then text = "--" .. text:sub(2) end
  return text
end

-- Loads and runs the spec; returns its value, the DSL marker set and the source text.
-- Compiling and running both happen under the sandbox's limits (host.run_limited).
local function run(path)
  local text = read_spec(path)
  local chunkname = "@" .. path
  local prefix = lua_prefix(chunkname)
  local env, made = make_env(path)
  if text:sub(1, 4) == "\27Lua" then
    errors.at(path, nil, "syntax error", "a spec must be Lua source text, not a compiled chunk")
  end
  local limited_why = string.format("spec ran too long (more than %d instructions or %d seconds)",
                                    M.MAX_INSTRUCTIONS, M.MAX_SECONDS)
  local cok, packed, kind = host.run_limited(function() return {load(text, chunkname, "t", env)} end,
    chunkname, M.MAX_INSTRUCTIONS, M.MAX_BYTES, M.MAX_SECONDS, limited_why)
  local chunk, lerr
  if cok then
    chunk, lerr = packed[1], packed[2]
  elseif kind == "memory" then
    errors.at(path, nil, "syntax error", string.format("compiling the spec needs more than %d MB of memory",
      M.MAX_BYTES >> 20))
  else
    lerr = packed
  end
  if not chunk then
    lerr = scrub(tostring(lerr))
    local line, rest = relocate(lerr, prefix, path)
    if line then errors.at(path, line, "syntax error", rest) end
    if lerr:match("C stack overflow") then lerr = "the spec nests too deeply (C stack overflow)" end
    errors.at(path, nil, "syntax error", lerr)
  end
  local string_mt = getmetatable("")
  local real_index = string_mt.__index
  string_mt.__index = env.string
  local ok, result, kind, line = host.run_limited(chunk, chunkname, M.MAX_INSTRUCTIONS, M.MAX_BYTES,
    M.MAX_SECONDS, limited_why)
  string_mt.__index = real_index
  -- the environment's __index raises "unknown name" at a spec line: a spec that returns its
  -- own environment must not get that error from validation's lookups
  setmetatable(env, nil)
  if not ok then
    local e = result
    if errors.is_user(e) then error(e, 0) end
    if kind == "memory" then
      errors.at(path, line, nil, string.format("spec needs more than %d MB of memory", M.MAX_BYTES >> 20))
    end
    if type(e) == "string" and e:match("^spec ran too long") then errors.at(path, line, nil, e) end
    if type(e) == "string" then
      e = scrub(e)
      if e:match("stack overflow") then   -- also "C stack overflow"
        errors.at(path, line, nil, "the spec nests or recurses too deeply (stack overflow)")
      end
    end
    local eline, rest = relocate(e, prefix, path)
    if eline then errors.at(path, eline, nil, rest) end
    if type(e) == "string" then errors.at(path, line, nil, e) end
    errors.at(path, line, nil, "spec raised an error value of type " .. type(e))
  end
  return result, made, text
end

-- Validation ----------------------------------------------------------------------

-- The parts of validate(), one function per part of the network. c holds what they
-- share: path, value (the recorded network call), made (the DSL's values), body (its
-- fields), line_of(key), fail(line, where, what), need(key), size(where, line, v, what, max).
-- What is wrong with a network name, or nil: the spec's name and `gen --name` share it.
function M.name_problem(name)
  if type(name) ~= "string" or not name:match("^[A-Za-z_][A-Za-z0-9_]*$") then
    return "name must be a C identifier, got " .. show(name)
  end
  if C_KEYWORDS[name] then return "name '" .. name .. "' is a C keyword" end
  if #name > 48 then return "name '" .. name .. "' is longer than 48 characters" end
  if name:match("^_") then return "name must not start with '_', got '" .. name .. "'" end
  -- NAME_forward, NAME_loss, NAME_work ... must not clash with the generated file's
  -- static helpers (l0_linear_forward, mse_loss, forward_work, ...).
  if names.reserved(name) then
    return "name '" .. name .. "' is reserved (it clashes with generated helper names)"
  end
  -- NAME_seed, NAME_step ... must not clash with the runtime's cr_* and the trainer's tr_*
  -- functions, which --cli trainers and --python libraries link with them (cr_rng_seed, tr_seed)
  local lib = name:match("^(cr)$") or name:match("^(tr)$") or name:match("^(cr)_") or name:match("^(tr)_")
  if lib then
    return "name '" .. name .. "' is reserved (names " .. lib .. " and " .. lib .. "_... are the "
      .. (lib == "cr" and "runtime's" or "trainer's") .. " functions' prefix)"
  end
  return nil
end

local function check_name(c)
  local problem = M.name_problem(c.value.name)
  if problem then c.fail(c.value.line, "network", problem) end
end

local function check_fields(c)
  local fail, line_of, value, made = c.fail, c.line_of, c.value, c.made
  local body = value.body
  if type(body) ~= "table" or made[body] then
    fail(value.line, "network", "expected a table of fields after the name, got " .. show(body))
  end
  for _, k in ipairs(sorted_keys(body, function(n)
    fail(value.line, "network", "more than " .. n .. " fields (a network has " .. #NETWORK_FIELDS .. ")")
  end)) do
    if type(k) ~= "string" then
      fail(value.line, "network", "unexpected entry [" .. show(k) .. "] (fields are written name = value)")
    end
    if not contains(NETWORK_FIELDS, k) then
      fail(line_of(k), "network", "unknown field '" .. k .. "'" .. errors.suggest_or_list(k, NETWORK_FIELDS, "the fields"))
    end
  end
  return body
end

-- layers: the op registry (gen/ops.lua) checks each one; sets net.layers, net.output
local function check_layers(c, net)
  local fail, line_of, value, made, need, size = c.fail, c.line_of, c.value, c.made, c.need, c.size
  local layers = need("layers")
  local lline = line_of("layers")
  if type(layers) ~= "table" or made[layers] then
    fail(lline, "layers", "expected a list of layers such as { linear(50), relu(), linear(10) }, got " .. show(layers))
  end
  local count = #layers
  if count == 0 then fail(lline, "layers", "needs at least one layer") end
  if count > M.MAX_LAYERS then fail(lline, "layers", count .. " layers is too many (at most " .. M.MAX_LAYERS .. ")") end
  for _, k in ipairs(sorted_keys(layers, function(n)
    fail(lline, "layers", "more than " .. n .. " entries (at most " .. M.MAX_LAYERS .. " layers)")
  end)) do
    if not (math.type(k) == "integer" and k >= 1 and k <= count) then
      fail(lline, "layers", "unexpected entry [" .. show(k) .. "] (layers are a plain list)")
    end
  end
  net.layers = {}
  local width, params, has_product = net.input, 0, false
  local shape = net.input_shape   -- {C, H, W} of an image, nil when flat
  for i = 1, count do
    local l = layers[i]
    local where = "layers[" .. i .. "]"
    local op = made[l] and ops.get(l.tag)
    if not op then
      fail(lline, where, "expected a layer such as linear(10) or relu(), got " .. show(l))
    end
    local function check_opts(allowed)
      local opts = l.opts
      if opts == nil then return {} end
      if type(opts) ~= "table" or made[opts] then
        fail(l.line, where, op.word .. " options must be a table like " .. op.example .. ", got " .. show(opts))
      end
      for _, k in ipairs(sorted_keys(opts, function(n)
        fail(l.line, where, op.word .. " options: more than " .. n .. " entries")
      end)) do
        if type(k) ~= "string" or not contains(allowed, k) then
          fail(l.line, where, op.word .. " has no option " .. show(k) .. errors.suggest_or_list(k, allowed, "its options"))
        end
      end
      return opts
    end
    -- an op that takes images (conv2d, pooling) or flat rows (linear); activations and
    -- flatten take either
    if op.input == "image" and not shape then
      fail(l.line, where, op.word .. " needs a C×H×W input (input = {C, H, W}), got " .. width
        .. " flat features")
    end
    if op.input == "flat" and shape then
      fail(l.line, where, string.format("%s needs flat features, got a %d×%d×%d image: add flatten() before it",
        op.word, shape[1], shape[2], shape[3]))
    end
    local layer
    if op.check then
      -- the toolkit an op's check() validates its call with
      local v = {
        fail = function(what) fail(l.line, where, what) end,
        size = function(value, what) return size(where, l.line, value, what, M.MAX_DIM) end,
        opts = check_opts,
        choice = function(o, key, list, default)
          local value = o[key]
          if value == nil then return default end
          if not contains(list, value) then
            fail(l.line, where, key .. " must be one of " .. quoted(list) .. ", got " .. show(value)
              .. errors.suggest(value, list))
          end
          return value
        end,
        finite = finite, show = show, index = i,
        shape = shape, width = width,
        -- an integer option >= min (default when absent; nil default: required by the caller)
        int = function(o, key, default, min)
          local value = o[key]
          if value == nil then value = default end
          if not is_int(value) or value < min then
            fail(l.line, where, key .. " must be an integer >= " .. min .. ", got " .. show(value))
          end
          if value > M.MAX_DIM then fail(l.line, where, key .. " " .. show(value) .. " is too large") end
          return math.tointeger(value)
        end,
        -- C·H·W of a shape, within MAX_DIM
        count = function(s)
          local n = s[1] * s[2] * s[3]
          if n > M.MAX_DIM then
            fail(l.line, where, string.format("output %d×%d×%d = %d features is too large (at most %d)",
              s[1], s[2], s[3], n, M.MAX_DIM))
          end
          return n
        end,
      }
      layer = op.check(l, v)
      has_product = has_product or op.role == "product"
    else
      if l.extra > 0 or (l.opts ~= nil and type(l.opts) ~= "table") then
        fail(l.line, where, op.word .. (#op.options == 0 and " takes no arguments, got "
          or " takes only an options table like " .. op.example .. ", got ") .. show(l.opts))
      end
      local allowed = {}
      for k, opt in ipairs(op.options) do allowed[k] = opt.name end
      local o = check_opts(allowed)
      layer = {out = width, shape = shape}
      for _, opt in ipairs(op.options) do
        local value = o[opt.name]
        if value == nil then value = opt.default end
        if not finite(value) or not opt.check(value) then
          fail(l.line, where, opt.name .. " must be " .. opt.what .. ", got " .. show(value))
        end
        layer[opt.name] = value + 0.0
      end
    end
    layer.kind, layer.index, layer.line, layer.in_, layer.in_shape = op.word, i - 1, l.line, width, shape
    for _, t in ipairs(op.params(layer)) do params = params + t.rows * t.cols end
    width, shape = layer.out, layer.shape
    if net.batch * layer.out > M.MAX_ROWS_FLOATS then
      fail(l.line, where, string.format("batch × width = %d × %d is too large (at most %d floats)",
        net.batch, layer.out, M.MAX_ROWS_FLOATS))
    end
    if params > M.MAX_PARAMS then
      fail(l.line, where, "the network has more than " .. M.MAX_PARAMS .. " parameters")
    end
    net.layers[i] = layer
  end
  if not has_product then fail(lline, "layers", "needs at least one linear layer") end
  if shape then
    fail(lline, "layers", string.format("the last layer gives a %d×%d×%d image: end with flatten() and linear(...)",
      shape[1], shape[2], shape[3]))
  end
  net.output = width
end

local function check_loss(c, net)
  local fail, line_of, need = c.fail, c.line_of, c.need
  local width = net.output
  local loss = need("loss")
  local line = line_of("loss")
  if not contains(M.LOSSES, loss) then
    fail(line, "loss", "unknown loss " .. show(loss) .. errors.suggest(loss, M.LOSSES)
      .. " (one of " .. quoted(M.LOSSES) .. ")")
  end
  if loss == "mse" and width ~= 1 then
    fail(line, "loss", "mse needs a last layer of width 1, got " .. width)
  end
  if loss == "cross_entropy" and width < 2 then
    fail(line, "loss", "cross_entropy needs at least 2 outputs, got " .. width)
  end
  net.loss = loss
end

local function check_optimizer(c, net)
  local fail, line_of, made, need = c.fail, c.line_of, c.made, c.need
  local o = need("optimizer")
  local line = line_of("optimizer")
  if not (made[o] and o.tag == "optimizer") then
    fail(line, "optimizer", "expected sgd{...}, adam{...} or adamw{...}, got " .. show(o))
  end
  line = o.line
  local kind = o.kind
  if o.extra > 0 or type(o.opts) ~= "table" or made[o.opts] then
    fail(line, "optimizer", kind .. " takes one options table like " .. kind .. "{lr = 0.01}, got " .. show(o.opts))
  end
  local allowed = OPT_OPTIONS[kind]
  for _, k in ipairs(sorted_keys(o.opts, function(n)
    fail(line, "optimizer", kind .. " options: more than " .. n .. " entries")
  end)) do
    if type(k) ~= "string" or not contains(allowed, k) then
      fail(line, "optimizer", kind .. " has no option " .. show(k) .. errors.suggest_or_list(k, allowed, "its options"))
    end
  end
  local opt = {kind = kind}
  for _, k in ipairs(allowed) do
    local v = o.opts[k]
    if v == nil then v = OPT_DEFAULTS[kind][k] end
    if v == nil then fail(line, "optimizer", kind .. " needs " .. k) end
    opt[k] = v
  end
  local function num(k, ok, what)
    local v = opt[k]
    if not finite(v) or not ok(v) then
      fail(line, "optimizer", kind .. " " .. k .. " must be " .. what .. ", got " .. show(v))
    end
    opt[k] = v + 0.0
  end
  num("lr", function(v) return v > 0 end, "a finite number > 0")
  num("weight_decay", function(v) return v >= 0 end, "a finite number >= 0")
  if kind == "sgd" then
    num("momentum", function(v) return v >= 0 end, "a finite number >= 0")
    num("dampening", function(v) return true end, "a finite number")
    if type(opt.nesterov) ~= "boolean" then
      fail(line, "optimizer", "sgd nesterov must be true or false, got " .. show(opt.nesterov))
    end
    if opt.nesterov and (opt.momentum <= 0 or opt.dampening ~= 0) then
      fail(line, "optimizer", "sgd nesterov needs momentum > 0 and dampening = 0")
    end
  else
    num("beta1", function(v) return v >= 0 and v < 1 end, "in [0, 1)")
    num("beta2", function(v) return v >= 0 and v < 1 end, "in [0, 1)")
    num("eps", function(v) return v >= 0 end, "a finite number >= 0")
  end
  net.optimizer = opt
end

-- schedule = step{...} | cosine{...} | onecycle{...} (optional): net.schedule is the
-- trainer's "KIND:key=value,..." text, keys in SCHEDULE_KEYS order.
local SCHEDULE_VALUES = {
  pos = {function(v) return finite(v) and v > 0 end, "a number > 0"},
  nonneg = {function(v) return finite(v) and v >= 0 end, "a number >= 0"},
  frac = {function(v) return finite(v) and v > 0 and v < 1 end, "a number in (0, 1)"},
  unit = {function(v) return finite(v) and v >= 0 and v <= 1 end, "a number in [0, 1]"},
  epochs = {function(v) return is_int(v) and v >= 1 and v <= 1000000 end, "an integer from 1 to 1000000"},
  bool = {function(v) return type(v) == "boolean" end, "true or false"},
  anneal = {function(v) return v == "cos" or v == "linear" end, 'cos or linear'},
}
local function check_schedule(c, net)
  local fail, line_of, made, body = c.fail, c.line_of, c.made, c.body
  local o = body.schedule
  if o == nil then return end
  local line = line_of("schedule")
  if not (made[o] and o.tag == "schedule") then
    fail(line, "schedule", "expected step{...}, cosine{...} or onecycle{...}, got " .. show(o))
  end
  line = o.line
  local kind = o.kind
  if o.extra > 0 or (o.opts ~= nil and (type(o.opts) ~= "table" or made[o.opts])) then
    fail(line, "schedule", kind .. " takes one options table like " .. kind .. "{...}, got " .. show(o.opts))
  end
  local opts = o.opts or {}
  local keys = SCHEDULE_KEYS[kind]
  local names = {}
  for i, k in ipairs(keys) do names[i] = k[1] end
  for _, k in ipairs(sorted_keys(opts, function(n)
    fail(line, "schedule", kind .. " options: more than " .. n .. " entries")
  end)) do
    if type(k) ~= "string" or not contains(names, k) then
      fail(line, "schedule", kind .. " has no option " .. show(k) .. errors.suggest_or_list(k, names, "its options"))
    end
  end
  local parts = {}
  for _, k in ipairs(keys) do
    local v = opts[k[1]]
    if v ~= nil then
      local ok, what = SCHEDULE_VALUES[k[2]][1], SCHEDULE_VALUES[k[2]][2]
      if not ok(v) then
        fail(line, "schedule", kind .. " " .. k[1] .. " must be " .. what .. ", got " .. show(v))
      end
      -- numbers as show() writes them (the shortest text that reads back the same)
      parts[#parts + 1] = k[1] .. "=" .. (type(v) == "string" and v or show(v))
    end
  end
  if kind == "step" and opts.step_size == nil then
    fail(line, "schedule", "step needs step_size (epochs between decays), e.g. step{step_size = 5}")
  end
  if kind == "onecycle" and (opts.base_momentum or 0.85) > (opts.max_momentum or 0.95) then
    fail(line, "schedule", "onecycle base_momentum " .. show(opts.base_momentum or 0.85)
      .. " is larger than max_momentum " .. show(opts.max_momentum or 0.95))
  end
  net.schedule = kind .. (#parts > 0 and ":" .. table.concat(parts, ",") or "")
end

local function check_budget_isa(c, net)
  local fail, line_of, body = c.fail, c.line_of, c.body
  -- code_budget: the most multiply-add statements the products of all linear layers may
  -- take as straight-line code (gen/kernels/straight.lua); 0 keeps the loops/tiles for any size
  local budget = body.code_budget == nil and M.DEFAULT_CODE_BUDGET or body.code_budget
  if not is_int(budget) or budget < 0 then
    fail(line_of("code_budget"), "code_budget", "must be an integer >= 0 (multiply-adds written out; "
      .. "0 turns straight-line code off), got " .. show(budget))
  end
  if budget > M.MAX_CODE_BUDGET then
    fail(line_of("code_budget"), "code_budget", show(budget) .. " is too large (at most " .. M.MAX_CODE_BUDGET .. ")")
  end
  net.code_budget = math.tointeger(budget)

  -- isa (the command line may override it)
  if body.isa ~= nil then
    if not contains(target.NAMES, body.isa) then
      fail(line_of("isa"), "isa", "unknown isa " .. show(body.isa) .. errors.suggest(body.isa, target.NAMES)
        .. " (one of " .. quoted(target.NAMES) .. ")")
    end
    net.isa = body.isa
    net.isa_line = line_of("isa")
  end
end

-- input = N (flat features) or {C, H, W} (an image, rows in NCHW order): the width and the
-- shape (nil when flat).
local function check_input(c, input)
  local line = c.line_of("input")
  if type(input) ~= "table" or c.made[input] then
    return c.size("input", line, input, "must be", M.MAX_DIM), nil
  end
  local what = "must be a width or {C, H, W}"
  for _, k in ipairs(sorted_keys(input, function() c.fail(line, "input", what .. ", got a table of many entries") end)) do
    if not (math.type(k) == "integer" and k >= 1 and k <= 3) then
      c.fail(line, "input", what .. ", got a table with entry [" .. show(k) .. "]")
    end
  end
  if #input ~= 3 then c.fail(line, "input", what .. ", got a table of " .. #input .. " entries") end
  local shape = {}
  for k, name in ipairs({"C", "H", "W"}) do shape[k] = c.size("input", line, input[k], name .. " must be", M.MAX_DIM) end
  local n = shape[1] * shape[2] * shape[3]
  if n > M.MAX_DIM then
    c.fail(line, "input", string.format("%d×%d×%d = %d features is too large (at most %d)",
      shape[1], shape[2], shape[3], n, M.MAX_DIM))
  end
  return n, shape
end

local function validate(path, value, made, text)
  if not (made[value] and value.tag == "network") then
    errors.at(path, nil, nil, 'a spec must return network "name" { ... }, got ' .. show(value))
  end
  local lines = {}
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  -- Table fields carry no line numbers; find "key =" after the network call instead.
  local function line_of(key)
    key = key:gsub("%p", "%%%0")   -- unknown keys come from the user: match them literally
    for i = value.line, #lines do
      if lines[i]:match("^%s*" .. key .. "%s*=") or lines[i]:match("[{,]%s*" .. key .. "%s*=") then
        return i
      end
    end
    return value.line
  end
  local function fail(line, where, what) errors.at(path, line, where, what) end
  local c = {path = path, value = value, made = made, line_of = line_of, fail = fail}
  check_name(c)
  local body = check_fields(c)
  c.body = body
  local function need(k)
    if body[k] == nil then fail(value.line, "network", "missing field '" .. k .. "'") end
    return body[k]
  end

  local function size(where, line, v, what, max)
    if not is_int(v) or v < 1 then
      fail(line, where, what .. " a positive integer" .. (where:match("^layers") and " size" or "")
        .. ", got " .. show(v))
    end
    if v > max then fail(line, where, show(v) .. " is too large (at most " .. max .. ")") end
    return math.tointeger(v)
  end
  c.need, c.size = need, size

  local net = {name = value.name, path = path, line = value.line}
  net.input, net.input_shape = check_input(c, need("input"))
  net.batch = size("batch", line_of("batch"), body.batch == nil and 64 or body.batch, "must be", M.MAX_BATCH)
  if net.batch * net.input > M.MAX_ROWS_FLOATS then
    fail(line_of("input"), "input", string.format("batch × input = %d × %d is too large (at most %d floats)",
      net.batch, net.input, M.MAX_ROWS_FLOATS))
  end
  check_layers(c, net)
  check_loss(c, net)
  check_optimizer(c, net)
  check_schedule(c, net)
  check_budget_isa(c, net)
  return net
end

-- load(path) -> network description (see validate for its fields).
-- Validation runs under the same limits as the spec (its tables may be huge: a key list to
-- sort, a string to suggest a correction for), so no spec makes it slow or large.
function M.load(path)
  local value, made, text = run(path)
  local ok, result, kind = host.run_limited(function() return validate(path, value, made, text) end,
    "=validate", M.MAX_INSTRUCTIONS, M.MAX_BYTES, M.MAX_SECONDS,
    string.format("checking the spec took too long (more than %d instructions or %d seconds)",
                  M.MAX_INSTRUCTIONS, M.MAX_SECONDS))
  if ok then return result end
  if errors.is_user(result) then error(result, 0) end
  if kind == "memory" then
    errors.at(path, nil, nil, string.format("checking the spec needs more than %d MB of memory", M.MAX_BYTES >> 20))
  end
  if type(result) == "string" and result:match("^checking the spec took too long") then
    errors.at(path, nil, nil, result)
  end
  error(result, 0)   -- a generator bug: the host prints it with "internal error"
end

return M
