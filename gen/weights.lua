-- Weights for `gen --inference --weights SOURCE`: a trainer checkpoint (runtime/cr_ckpt.c's
-- format, runtime/cr.h) or a directory of PyTorch-layout .npy files (as the trainer's
-- `export` writes them and `numpy.save(t.numpy())` of a state_dict does: "0.weight.npy"
-- [out][in], "0.bias.npy" [out], float32, optional "norm.npy" [2] = mean, std).
-- load() returns, per tensor of the graph, the floats in our [in][out] layout (Lua numbers
-- holding fp32 values exactly), and the input normalisation if the source has one. Every
-- problem is one user error "FILE: what" (exit 2), found before anything is written.
local errors = require "errors"

local M = {files_read = {}}

local function fail(file, what) errors.user(file .. ": " .. what) end

-- The whole file (at most max bytes), or nil and "directory" / the reason. Through the
-- runtime's reader policy (host.read_plain): a regular file only, so a FIFO or a device is
-- refused at once instead of blocking or reading forever.
local function read(path, max)
  local s, err = host.read_plain(path, max)
  if s then
    M.files_read[#M.files_read + 1] = path
    return s
  end
  err = tostring(err)
  if err:find(": is a directory, not a regular file", 1, true) then return nil, "directory" end
  local prefix = path .. ": "
  if err:sub(1, #prefix) == prefix then err = err:sub(#prefix + 1) end
  return nil, (err:gsub("^cannot open: ", ""))
end

local function shape_text(shape)
  if #shape == 0 then return "()" end
  if #shape == 1 then return "(" .. shape[1] .. ",)" end
  local t = {}
  for i, d in ipairs(shape) do t[i] = tostring(d) end
  return "(" .. table.concat(t, ", ") .. ")"
end

-- PyTorch's shape of tensor t, as its op gives it (gen/ops/*.lua `torch`): nn.Linear weight
-- [out][in], Conv2d weight [out][in][kh][kw], biases and batchnorm's vectors [C],
-- num_batches_tracked 0-d.
local function torch_shape(t)
  return t.torch or (t.suffix == "bias" and {t.cols} or {t.cols, t.rows})
end

-- What a tensor of that shape is, for messages.
local function shape_what(t)
  local n = #torch_shape(t)
  if n == 4 then return "nn.Conv2d weight [out][in][kh][kw]" end
  if n == 2 then return "nn.Linear weight [out][in]" end
  if n == 0 then return "a 0-d counter" end
  if t.suffix == "bias" then return "nn.Linear bias [out]" end
  return "batchnorm " .. t.suffix .. " [C]"
end

-- "[i][j]..." of flat index k (0-based) in a PyTorch-shaped tensor.
local function index_text(shape, k)
  if #shape == 0 then return "[]" end
  local parts = {}
  for d = #shape, 1, -1 do
    parts[d] = "[" .. k % shape[d] .. "]"
    k = k // shape[d]
  end
  return table.concat(parts)
end

-- count floats from bytes at pos (1-based), refusing NaN/Inf with where(k) naming element k.
local function floats(file, bytes, pos, count, where)
  local v = {}
  for k = 0, count - 1 do
    local x = string.unpack("<f", bytes, pos + 4 * k)
    if x ~= x or x == math.huge or x == -math.huge then
      fail(file, where(k) .. " is " .. (x ~= x and "NaN" or (x > 0 and "+Inf" or "-Inf")))
    end
    v[k + 1] = x
  end
  return v
end

-- Our [in][out] layout from PyTorch's [out][in] (a conv weight's [out][in·kh·kw]; vectors and
-- counters: the same).
local function ours(t, v)
  if #torch_shape(t) < 2 then return v end
  local r = {}
  local rows, cols = t.rows, t.cols   -- ours: rows = in, cols = out
  for i = 0, rows - 1 do
    for j = 0, cols - 1 do r[i * cols + j + 1] = v[j * rows + i + 1] end
  end
  return r
end

-- ---------------------------------------------------------------- .npy

-- Parses a .npy file: dtype, shape, fortran order, data offset (1-based).
local function npy_header(file, s)
  if #s < 10 or s:sub(1, 6) ~= "\147NUMPY" then fail(file, "not a .npy file (bad magic)") end
  local major = s:byte(7)
  local hlen, start
  if major == 1 then
    hlen, start = string.unpack("<I2", s, 9), 11
  elseif major == 2 or major == 3 then
    if #s < 12 then fail(file, ".npy header truncated") end
    hlen, start = string.unpack("<I4", s, 9), 13
  else
    fail(file, "unsupported .npy version " .. major)
  end
  if start + hlen - 1 > #s then fail(file, ".npy header truncated") end
  local h = s:sub(start, start + hlen - 1)
  local descr = h:match("'descr'%s*:%s*'([^']*)'")
  local fortran = h:match("'fortran_order'%s*:%s*(%a+)")
  local dims = h:match("'shape'%s*:%s*%(([^)]*)%)")
  if not descr or not fortran or not dims then fail(file, "unreadable .npy header") end
  local shape = {}
  for d in dims:gmatch("%d+") do shape[#shape + 1] = math.tointeger(tonumber(d)) end
  return descr, fortran == "True", shape, start + hlen
end

-- (product_bias: t is a linear or conv2d layer's bias, whose absence gets a hint)
local function load_npy(file, t, product_bias)
  local s, err = read(file, 4 * t.rows * t.cols + 65536)
  local head
  if not s and err:find("longer than the limit", 1, true) then
    -- more data than the tensor's: its header says the shape (another network's tensor)
    local f = io.open(file, "rb")
    head = f and f:read(65536)
    if f then f:close() end
  end
  if not s and not head then
    -- (a product's bias missing beside its weight: most likely a layer made without one)
    local hint = product_bias and err:find("No such file", 1, true)
      and " (layer " .. t.layer .. " made without a bias? then its spec says {bias = false})" or ""
    fail(file, err == "directory" and "is a directory, expected a .npy file" or "cannot read: " .. err .. hint)
  end
  s = s or head
  local descr, fortran, shape, data = npy_header(file, s)
  local want = torch_shape(t)
  local same = #shape == #want
  for i = 1, #want do same = same and shape[i] == want[i] end
  -- torch saves num_batches_tracked as a 0-d int64
  local counter = #want == 0 and descr == "<i8"
  if (descr ~= "<f4" and not counter) or not same then
    fail(file, string.format("expected float32 '<f4' of shape %s (%s), got '%s' of shape %s", shape_text(want),
      shape_what(t), descr, shape_text(shape)))
  end
  if fortran then fail(file, "Fortran-ordered array (save a C-contiguous copy)") end
  if head then fail(file, string.format("holds more data than shape %s needs (%d bytes)", shape_text(want), 4 * t.rows * t.cols)) end
  local count = t.rows * t.cols
  if counter then
    if #s - data + 1 ~= 8 then fail(file, string.format("holds %d data bytes, an int64 needs 8", #s - data + 1)) end
    local n = string.unpack("<i8", s, data)
    if n < 0 or n > 1 << 24 then fail(file, "counter " .. n .. " out of range (0 to 2^24, exact in float32)") end
    return {n + 0.0}
  end
  if #s - data + 1 ~= 4 * count then
    fail(file, string.format("holds %d data bytes, shape %s needs %d", #s - data + 1, shape_text(want), 4 * count))
  end
  return ours(t, floats(file, s, data, count, function(k) return "element " .. index_text(want, k) end))
end

-- norm.npy: [2] = mean, std (per-feature normalisation is not baked in).
local function load_norm_npy(file)
  local s = read(file, 65536)
  if not s then return nil end
  local descr, fortran, shape, data = npy_header(file, s)
  if descr ~= "<f4" or fortran or #shape ~= 1 or shape[1] ~= 2 or #s - data + 1 ~= 8 then
    fail(file, "expected float32 of shape (2,) (mean, std); per-feature normalisation is not supported here")
  end
  local v = floats(file, s, data, 2, function(k) return k == 0 and "mean" or "std" end)
  if v[2] <= 0 then fail(file, "std must be positive, got " .. v[2]) end
  return {mean = v[1], std = v[2]}
end

local function load_dir(dir, g)
  local out, known, names = {}, {["norm.npy"] = true}, {}
  for i, t in ipairs(g.tensors) do
    known[t.name .. ".npy"], names[i] = true, t.name
  end
  -- every state_dict tensor there (N.name.npy) is this network's: a longer network's would
  -- otherwise deploy its first layers silently (torch's strict load_state_dict refuses it
  -- too); other arrays (inputs, expected outputs) may sit beside them
  local entries = host.listdir(dir) or {}
  table.sort(entries)
  for _, e in ipairs(entries) do
    local layer = e:match("^(%d+)%.bias%.npy$")
    if layer and not known[e] and known[layer .. ".weight.npy"] then
      fail(dir .. "/" .. e, "layer " .. layer .. " of " .. g.name .. " has no bias (bias = false in its spec): "
        .. "weights of a network with one?")
    end
    if e:match("^%d+%.[%w_]+%.npy$") and not known[e] then
      fail(dir .. "/" .. e, "not a tensor of " .. g.name .. " (its tensors: " .. table.concat(names, ", ")
        .. ", and norm.npy): weights of another network?")
    end
  end
  local product_bias = {}
  for _, l in ipairs(g.layers) do
    if l.op.role == "product" and l.bias >= 0 then product_bias[l.bias] = true end
  end
  for i, t in ipairs(g.tensors) do
    out[i] = load_npy(dir .. "/" .. t.name .. ".npy", t, product_bias[t.index])
  end
  return out, load_norm_npy(dir .. "/norm.npy")
end

-- ---------------------------------------------------------------- checkpoint

local MAGIC = "CRCKPT\r\n"
local VERSION = 1
local NAME_MAX, PART_NAME_MAX = 64, 32
local FIXED = 8 + 4 + 4 + NAME_MAX + 8 + 8 + 4 + 4
local ENTRY, TAIL = PART_NAME_MAX + 8, 8 + 4 + 4

local CRC_TAB = {
  0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
  0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c}

-- CRC-32 (IEEE, reflected) of s[i..j], as cr_crc32.
local function crc32(s, i, j)
  local crc = 0xffffffff
  for k = i, j do
    crc = crc ~ s:byte(k)
    crc = (crc >> 4) ~ CRC_TAB[(crc & 15) + 1]
    crc = (crc >> 4) ~ CRC_TAB[(crc & 15) + 1]
  end
  return (~crc) & 0xffffffff
end

-- FNV-1a 64 of "name:rows:cols;" per tensor, as cr_shapes_hash (wrapping integer arithmetic).
local function shapes_hash(g)
  local h = 0xcbf29ce484222325   -- wraps to a negative Lua integer, as uint64_t arithmetic does
  for _, t in ipairs(g.tensors) do
    local s = t.name .. ":" .. t.rows .. ":" .. t.cols .. ";"
    for k = 1, #s do h = (h ~ s:byte(k)) * 0x100000001b3 end
  end
  return h
end

local function cstr(s, i, n)
  local z = s:find("\0", i, true)
  return s:sub(i, (z and z <= i + n - 1) and z - 1 or i + n - 1)
end

local function load_ckpt(file, s, g, spec_name)
  if #s < FIXED + TAIL then fail(file, "checkpoint truncated (" .. #s .. " bytes)") end
  local version, hb = string.unpack("<I4I4", s, 9)
  if version ~= VERSION then
    fail(file, "checkpoint format version " .. version .. ", this generator reads version " .. VERSION)
  end
  local nparts = string.unpack("<I4", s, FIXED - 8 + 1)
  if nparts > 64 or hb ~= FIXED + nparts * ENTRY + TAIL then fail(file, "checkpoint header corrupt (size fields inconsistent)") end
  if #s < hb then fail(file, "checkpoint truncated (" .. #s .. " bytes, header is " .. hb .. ")") end
  if string.unpack("<I4", s, hb - 3) ~= crc32(s, 1, hb - 4) then fail(file, "checkpoint header corrupt (CRC32 mismatch)") end
  local net = cstr(s, 17, NAME_MAX)
  -- the trainer writes its network's name: the spec's, or the --name it was generated with
  if net ~= spec_name and net ~= g.name then
    fail(file, "checkpoint is for network '" .. net .. "', the spec describes '" .. spec_name .. "'"
      .. (g.name ~= spec_name and " (--name '" .. g.name .. "')" or ""))
  end
  local pc, sh = string.unpack("<I8i8", s, 17 + NAME_MAX)
  if pc ~= g.param_count or sh ~= shapes_hash(g) then
    fail(file, string.format("checkpoint's parameter shapes differ from the spec's (%d vs %d parameters)", pc, g.param_count))
  end
  local parts, pos = {}, FIXED + 1
  local off = hb + 1
  for _ = 1, nparts do
    local name, bytes = cstr(s, pos, PART_NAME_MAX), string.unpack("<I8", s, pos + PART_NAME_MAX)
    parts[name] = {at = off, bytes = bytes}
    off = off + bytes
    pos = pos + ENTRY
  end
  local total, crc = string.unpack("<I8I4", s, pos)
  if #s ~= hb + total or off ~= hb + total + 1 then
    fail(file, string.format("checkpoint truncated or padded (%d bytes, header says %d)", #s, hb + total))
  end
  if crc ~= crc32(s, hb + 1, #s) then fail(file, "checkpoint payload corrupt (CRC32 mismatch)") end
  local p = parts.params
  if not p or p.bytes ~= 4 * g.param_count then fail(file, "checkpoint has no parameters part of the right size") end
  -- the parameters packed tensor by tensor in our [in][out] layout
  local out, at = {}, p.at
  for i, t in ipairs(g.tensors) do
    out[i] = floats(file, s, at, t.rows * t.cols, function(k)
      return "tensor '" .. t.name .. "' element " .. (t.suffix == "bias" and "[" .. k .. "]"
        or "[" .. k // t.cols .. "][" .. k % t.cols .. "] (ours, [in][out])")
    end)
    at = at + 4 * t.rows * t.cols
  end
  local norm
  if parts.norm and parts.norm.bytes == 8 then
    local v = floats(file, s, parts.norm.at, 2, function(k) return k == 0 and "normalisation mean" or "normalisation std" end)
    if v[2] > 0 then norm = {mean = v[1], std = v[2]} end
  end
  return out, norm
end

-- The weights from a checkpoint file or a directory of .npy files, for graph g of the
-- spec named spec_name (the name the trainer wrote into its checkpoints).
-- After it, M.files_read lists the files it read (for gen --depfile).
function M.load(path, g, spec_name)
  M.files_read = {}
  -- a checkpoint: header (< 4 KB) + parameters + optimizer state (2 copies for Adam) + small parts
  local s, err = read(path, 4 * 4 * g.param_count + (1 << 20))
  if not s and err == "directory" then return load_dir(path, g) end
  if not s then fail(path, "cannot read weights: " .. err) end
  if s:sub(1, 8) == MAGIC then return load_ckpt(path, s, g, spec_name) end
  if s:sub(1, 6) == "\147NUMPY" then
    fail(path, "a single .npy file; --weights takes a directory of them (0.weight.npy, 0.bias.npy, ...)")
  end
  fail(path, "not a chainrule checkpoint nor a directory of .npy files")
end

return M
