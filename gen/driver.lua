-- The command line: chainrule gen SPEC [--out DIR] [--isa ISA] [--name NAME] [--cli] [--python] [--batch N]
--                   [--inference [--weights CKPT|DIR] [--max-batch N]] [--dispatch ISAS]
--                   [--depfile FILE] [--tune FILE] [--cpu CPU] [--compact]
--                   chainrule tune SPEC [--isa ISA] [--cpu CPU] [--out FILE] [--budget S] [--batch N | --max-batch N]
-- Runs the pipeline (spec -> graph -> schedule -> plan -> lower -> templates) and writes the files,
-- each only if its bytes changed, through a temporary file and a rename.
local errors = require "errors"
local VERSION = require "version"

local M = {}

local USAGE = [==[
usage: chainrule gen SPEC [--out DIR] [--isa ISA] [--name NAME] [--cli] [--python]
                     [--batch N] [--inference [--weights CKPT|DIR] [--max-batch N]]
                     [--dispatch ISAS] [--depfile FILE] [--tune FILE] [--cpu CPU] [--compact]
       chainrule tune SPEC [--isa ISA] [--cpu CPU] [--out FILE] [--budget SECONDS]
                     [--batch N | --max-batch N]
       chainrule cpu [CPU]
       chainrule --help | --version

  gen SPEC     generate NAME.h and NAME.c from the network spec SPEC (a Lua file)
  --out DIR    output directory (default: the current directory; created if missing)
  --isa ISA    scalar, sse2, avx2, avx512, neon or native (default: the spec's isa, else scalar)
  --name NAME  call the network NAME instead of the spec's name: every symbol, type, macro,
               the include guard and the file names (so several variants link together)
  --batch N    a training build for at most N rows per call instead of the spec's batch
               (the same bytes as the spec with batch = N)
  --cli        also write NAME_cli.c, a command-line trainer for the network
  --python     also write NAME.py, a NumPy/ctypes module for the network, and libNAME.so,
               compiled now from NAME.c with $CC (default cc) and the ISA's flags (with
               --dispatch: and from every variant's NAME_ISA.c with its own), and the
               runtime's initialisation (Net.init draws the trainer's numbers)
  --inference  forward-only NAME.h/NAME.c: no backward, loss or optimizer; NAME_predict for a
               classifier (argmax, no libm)
  --weights W  with --inference: const NAME_weights, bit for bit, from a trainer checkpoint or a
               directory of PyTorch-layout .npy files (0.weight.npy [out][in], 0.bias.npy, ...)
  --max-batch N  with --inference: most rows per NAME_forward call, sizing NAME_work (default 1)
  --depfile FILE  also write FILE, a Make-syntax depfile (make's include, ninja, CMake's
               DEPFILE): the outputs depend on SPEC, the --weights files and this binary;
               its directory must exist unless it is the --out directory
  --dispatch ISAS  x86 runtime dispatch: NAME_ISA.h/.c for each of ISAS (a comma list of
               avx512, avx2, sse2, scalar; scalar is required; x86 for all four) and NAME.h/NAME.c
               whose NAME_* entry points run the best variant the CPU supports (NAME_isa,
               NAME_use_isa); with --inference --weights, NAME.c holds the weights once.
               ISA:FAMILY (avx512:zen5) adds NAME_ISA_FAMILY, generated with --cpu FAMILY and
               run in preference to ISA on a CPU of that family
  Refused together: --inference with --batch, --cli or --python (a training build's);
  --weights and --max-batch without --inference; --dispatch with --isa. Refused too: an
  option given twice (but --tune, once per --dispatch variant), a tune file none of whose
  entries is a product of the build, and an output or --depfile that is the spec, a --tune or
  --weights file or another output.

  --compact    smaller code: the tiled products' last rows of a call (past the last whole
               register tile) as one-row tiles instead of one tile per power of two, and
               each tile a function shared by the layers of its shape; the same bits, a
               little slower. Chosen by itself when NAME.c would pass 768 KiB (the summary
               line says so)

  --tune FILE  take the tilings of the products FILE names (a tune file, below) instead of
               the defaults; FILE's isa must be the one generated. With --dispatch, FILE
               tunes the variant of its isa, and --tune may be given once per variant.
               Same spec, flags and FILE: same bytes
  --cpu CPU    the defaults of a CPU family where it measured faster with other tilings than
               the ISA's: generic (the ISA's, for any machine), zen3, zen4, zen5, or native
               (this machine's family; generic when not one of those). Default: native when
               the isa is native, else generic (a family changes only the ISAs its
               defaults name: chainrule cpu FAMILY; the summary names it where it does)

  tune SPEC    time candidate tilings (register tile width, loop order, packing, blocks of
               k and j, the batch-1 stream) of every linear product of SPEC on this machine,
               check each gives the default's bits, and write the fastest to a tune file;
               when one was chosen, time the whole train step (forward) with the choices
               against the defaults and keep the choices only if the step is faster (if
               not: each kind of product's choices alone, kept where that step is faster);
               then each other form a layer can take in the whole train step, kept where
               the step is 1 % faster: a linear weight gradient behind a ReLU from g's
               nonzeros or the tiles (avx512), each conv2d layer's dW and dx (sparse: only
               g's nonzeros, where a max pooling follows; or dense)
  --isa ISA    sse2, avx2, avx512, neon or native (default: the spec's isa, else native); this
               machine must run it
  --cpu CPU    the family whose defaults the candidates are timed against (default native;
               gen then needs the same --cpu for a key the file leaves out)
  --out FILE   the tune file (default NAME.tune)
  --budget S   seconds of timing in all (default 20; plus a quarter for the whole-step
               check, a quarter for each kind of product it then times alone, a quarter
               for each other form, and the compiles with $CC)
  --batch N    tune the training build at batch N (gen --batch N) instead of the spec's
  --max-batch N  tune the inference build of at most N rows (gen --inference --max-batch N)
               instead of the training build at the spec's batch
  cpu [CPU]    print the family CPU (default native: this machine's, as gen --cpu native
               takes it) and the defaults it changes; for native also the ISAs this
               machine runs and the one --isa native picks

  A tune file is plain text: 'chainrule-tune 1', 'isa ISA', 'cpu MODEL', then lines
  'PRODUCT K N BATCH key=value ...' (xw: vecs, order=rows|columns|depth, pack=yes|no,
  kc, mc, fill=loop|tile, pf=yes|no, spread=0|1|2|4|..|64; gwt: vecs, rows, jc,
  form=wt|gt; xtg: vecs, rows, pack=yes|no, jc, nc, xq=yes|no, update=tiles|after,
  pf=yes|no, sparse=yes|no; stream: kind=flat|regs|rows, rows, sets), and 'conv C H W O K S P BATCH
  wgrad=sparse|dense dx=sparse|dense' for a conv2d layer; a key left out keeps the
  default of the layer it applies to where that agrees with the keys given (xw: mc
  above 0 means order=columns pack=yes, order=rows means pack=no, a given order or pack
  brings that choice's own kc and mc), '#' lines are comments. Without one, the
  defaults are per ISA (gen/schedule.lua, docs/design/kernels.md) and CPU family (--cpu,
  gen/cpus.lua).

Each output is rewritten only when its bytes change; one whose bytes are right but which is
older than SPEC, the weights or this binary gets its time set to now, so make, ninja and
CMake see it up to date. The banner names SPEC by its file name only: the same spec gives
the same bytes from any directory.

Exit status: 0 done, 2 bad spec or arguments (one line on stderr), 1 internal error.]==]

local function usage_error(msg)
  errors.user("chainrule: " .. msg)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- The directory a path names its file in ("." for a bare name, "/" for "/x") and the name.
local function dir_of(path)
  local dir, base = path:match("^(.*)/([^/]*)$")
  if not dir then return ".", path end
  return dir == "" and "/" or dir, base
end

-- A path's identity: its file's device and inode; for a file not there yet, its directory's
-- and its name (so "a/../x", "$PWD/x" and "x" agree); nil when the directory is missing too.
local function identity(path)
  local kind, _, _, id = host.stat(path)
  if kind then return id end
  local dir, base = dir_of(path)
  local dkind, _, _, did = host.stat(dir)
  return dkind and did .. "/" .. base or nil
end

-- Whether two paths name one file (identity), or, where a directory is missing too (an --out
-- made later), the same path once "//", "/./" and a leading "./" are taken out.
local function same_file(a, b)
  local ia, ib = identity(a), identity(b)
  if ia and ib then return ia == ib end
  local function norm(p) return (p:gsub("/+", "/"):gsub("/%./", "/"):gsub("^%./", "")) end
  return norm(a) == norm(b)
end

-- Refuses a run that would write over one of its inputs, or write two outputs to one file
-- (--depfile naming an output): files as write_outputs takes them, inputs a list of {path,
-- what it is}. Checked before anything is written.
local function check_clobber(files, inputs, depfile)
  for i, f in ipairs(files) do
    for _, input in ipairs(inputs) do
      if same_file(f[1], input[1]) then
        usage_error((f[1] == depfile and "--depfile: " or "") .. "'" .. f[1] .. "' is " .. input[2]
          .. ": it would be overwritten (nothing written)")
      end
    end
    for j = i + 1, #files do
      if same_file(f[1], files[j][1]) then
        usage_error((files[j][1] == depfile and "--depfile: " or "") .. "'" .. files[j][1]
          .. "' is also an output (nothing written)")
      end
    end
  end
end

-- Writes the outputs whose bytes changed, all or none (host.write_files: the runtime's writer
-- policy, runtime/cr_out.c): each new text goes to an unpredictable temporary file beside its
-- target, and only when every one is written and synced are they renamed into place, so a
-- failure (a full disk, a file-size limit) leaves every old file as it was, no new .h next to
-- an old .c, and no temporary behind. A symlinked output keeps its link (the file it points
-- to is replaced). files: a list of {path, text, shown name}. Returns the shown names written
-- and the paths kept.
local function write_outputs(files, on_failure)
  local changed, written, kept = {}, {}, {}
  for _, f in ipairs(files) do
    if host.read_plain(f[1], #f[2] + 1) == f[2] then
      kept[#kept + 1] = f
    else
      changed[#changed + 1] = {f[1], f[2]}
      written[#written + 1] = f[3]
    end
  end
  local ok, err = host.write_files(changed)
  if not ok then
    if on_failure then on_failure() end
    usage_error(err)
  end
  return written, kept
end

-- Takes away the directories a host.mkdir_p call made (its list), innermost first; one
-- that is no longer empty stays.
local function remove_dirs(made)
  for k = #made, 1, -1 do os.remove(made[k]) end
end

-- True if modification time (s1, n1) is before (s2, n2).
local function older(s1, n1, s2, n2)
  return s1 < s2 or (s1 == s2 and n1 < n2)
end

-- Write-if-changed and the build tools: an output whose bytes are already right but which is
-- older than an input (the spec, the weights, this binary) gets its time set to now, bytes
-- and inode kept. Otherwise make/ninja/CMake, which compare times, would see it out of date
-- after every edit of the spec that leaves the output unchanged, and run gen on every build.
-- An output newer than every input is left alone (an identical regeneration touches nothing).
local function refresh_times(kept, inputs)
  local newest_s, newest_n
  for _, p in ipairs(inputs) do
    local kind, sec, nsec = host.stat(p)
    if kind and (not newest_s or older(newest_s, newest_n, sec, nsec)) then newest_s, newest_n = sec, nsec end
  end
  if not newest_s then return end
  for _, f in ipairs(kept) do
    local kind, sec, nsec = host.stat(f[1])
    if kind and older(sec, nsec, newest_s, newest_n) then
      local ok, err = host.touch(f[1])
      if not ok then usage_error(err) end
    end
  end
end

-- A path as a word of a Make rule (also read by ninja and CMake): spaces and '#' escaped
-- with a backslash, '$' doubled. A newline cannot be written: a user error.
local function make_word(path)
  if path:find("[\n\r]") then
    usage_error("--depfile: the path '" .. (path:gsub("[\n\r]", "?")) .. "' has a newline; a depfile cannot name it")
  end
  return (path:gsub("([ #\t])", "\\%1"):gsub("%$", "$$"))
end

-- The depfile's text: every output depends on the spec, the weights files read and the
-- generator binary; each prerequisite also gets an empty rule (as gcc -MP writes), so make
-- does not stop when one is deleted or moved.
local function depfile_text(targets, inputs)
  local t, p = {}, {}
  for i, path in ipairs(targets) do t[i] = make_word(path) end
  for i, path in ipairs(inputs) do p[i] = make_word(path) end
  local lines = {table.concat(t, " ") .. ": " .. table.concat(p, " ")}
  for _, w in ipairs(p) do lines[#lines + 1] = w .. ":" end
  return table.concat(lines, "\n") .. "\n"
end

-- --dispatch: the x86 ISAs it can choose between, best first, and the CPU test of each
-- (__builtin_cpu_supports of what ISA_CFLAGS_<isa> in the Makefile turns on).
-- (`--dispatch x86` is the whole list)
local DISPATCH_ORDER = {"avx512", "avx2", "sse2", "scalar"}
local DISPATCH_RANK = {}
for i, n in ipairs(DISPATCH_ORDER) do DISPATCH_RANK[n] = i end
local DISPATCH_TEST = {
  avx512 = '__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && '
    .. '__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma")',
  avx2 = '__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")',
  sse2 = '__builtin_cpu_supports("sse2")',
  scalar = "1",
}

-- A command's options: `values` take one (--opt VALUE or --opt=VALUE, stored under the name
-- without "--", and listed under the name with "_list"; given twice, an error unless
-- `repeatable`), `flags` none (stored as true); `prefix` starts the messages about unknown
-- options and extra arguments.
local GEN_OPTIONS = {
  command = "gen", prefix = "", repeatable = {["--tune"] = true},
  values = {["--out"] = true, ["--isa"] = true, ["--name"] = true, ["--weights"] = true, ["--max-batch"] = true,
            ["--batch"] = true, ["--dispatch"] = true, ["--depfile"] = true, ["--tune"] = true, ["--cpu"] = true},
  flags = {["--cli"] = true, ["--inference"] = true, ["--python"] = true, ["--compact"] = true},
}
local TUNE_OPTIONS = {
  command = "tune", prefix = "tune: ", repeatable = {},
  values = {["--out"] = true, ["--isa"] = true, ["--budget"] = true, ["--max-batch"] = true, ["--batch"] = true,
            ["--cpu"] = true},
  flags = {},
}

-- Parses args[from..] by the option table t into o (which holds the defaults): SPEC and
-- options in any order. Returns o, or nil for --help / -h anywhere an option may stand (the
-- command then prints the usage and succeeds).
local function parse_options(args, from, t, o)
  local i = from
  local given = {}
  while i <= #args do
    local a = args[i]
    local key, value = a:match("^(%-%-[%w-]+)=(.*)$")
    key = key or a
    if t.values[key] then
      if not value then
        i = i + 1
        value = args[i]
        if value == nil then usage_error("option '" .. key .. "' needs a value (try --help)") end
        -- `--tune --out d`: the value forgotten, the next option taken for it
        if t.values[value] or t.flags[value] or value == "--help" then
          usage_error(t.prefix .. "option '" .. key .. "' needs a value, not the option '" .. value
            .. "' (a value spelled like an option: " .. key .. "=" .. value .. ")")
        end
      end
      if value == "" then usage_error("option '" .. key .. "' needs a non-empty value") end
      if given[key] and not t.repeatable[key] then
        usage_error(t.prefix .. "option '" .. key .. "' given twice ('" .. given[key] .. "' and '" .. value .. "')")
      end
      given[key] = value
      o[key:sub(3)] = value
      local list = key:sub(3) .. "_list"
      o[list] = o[list] or {}
      table.insert(o[list], value)
    elseif t.flags[key] and not value then
      o[key:sub(3)] = true
    elseif a == "--help" or a == "-h" then
      return nil
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      usage_error(t.prefix .. "unknown option '" .. a .. "' (try --help)")
    elseif o.spec then
      usage_error(t.prefix .. "unexpected argument '" .. a .. "' (one spec per run; try --help)")
    else
      o.spec = a
    end
    i = i + 1
  end
  if not o.spec then usage_error(t.command .. " needs a spec file (try --help)") end
  return o
end

-- --max-batch N (gen --inference, tune) and --batch N (gen, tune): o.max_batch and o.batch,
-- integers 1..spec.MAX_BATCH.
local function parse_rows(o)
  for _, kf in ipairs({{"max-batch", "max_batch"}, {"batch", "batch"}}) do
    local key, field = kf[1], kf[2]
    local text = o[key]
    if text then
      local n = text:match("^%d+$") and math.tointeger(tonumber(text))
      local max = require("spec").MAX_BATCH
      if not n or n < 1 or n > max then
        usage_error("--" .. key .. ": expected an integer from 1 to " .. max .. ", got '" .. text .. "'")
      end
      o[field] = n
    end
  end
end

-- A build of net at `rows` rows per call (--batch or --max-batch, named by key): its widest
-- layer's buffer must hold at most spec.MAX_ROWS_FLOATS floats.
local function check_rows(net, rows, key)
  local spec = require "spec"
  local widest = net.input
  for _, l in ipairs(net.layers) do widest = math.max(widest, l.out) end
  if rows * widest > spec.MAX_ROWS_FLOATS then
    usage_error(string.format("--%s: %d rows × %d features is too large (at most %d floats)",
      key, rows, widest, spec.MAX_ROWS_FLOATS))
  end
end

-- A training build's batch (graph g's) against the fewest rows its training mode takes
-- (gen/lower.lua train_min_rows: a batchnorm over features sees one value per channel per row,
-- and a batch of 1 has no variance): NAME_TRAIN_MIN_ROWS above NAME_BATCH, a build that cannot train.
local function check_train_rows(g, from_cli, inference)
  local rows, layer = require("lower").train_min_rows(g)
  if g.batch >= rows then return end
  local line, where = g.layers[layer + 1].opts.line, "layers[" .. (layer + 1) .. "]"
  local what = "batchnorm over features takes at least " .. rows .. " rows per training step (a batch of 1 has "
    .. "no variance), but the batch is " .. g.batch .. ": use a batch of " .. rows .. " or more, or "
    .. (inference or "gen --inference") .. " for a forward-only build"
  if from_cli then usage_error("--batch " .. g.batch .. ": " .. g.path .. ":" .. line .. ": " .. where .. ": " .. what) end
  errors.at(g.path, line, where, what)
end

-- gen --python writes NAME.py: a Python keyword (that C allows) could not be imported by name
local PY_KEYWORDS = {}
for w in ("False None True and as assert async await class def del elif except finally from global "
          .. "import in is lambda nonlocal not or pass raise try with yield"):gmatch("%S+") do
  PY_KEYWORDS[w] = true
end
-- and the modules NAME.py imports, which NAME.py would shadow
local PY_IMPORTS = {ctypes = true, os = true, numpy = true}
local function check_python_name(net, renamed)
  if not PY_KEYWORDS[net.name] and not PY_IMPORTS[net.name] then return end
  local what = "gen --python: the network's name '" .. net.name .. "' is " .. (PY_KEYWORDS[net.name]
    and "a Python keyword, so the module " .. net.name .. ".py could not be imported by name"
    or "a module " .. net.name .. ".py imports, which it would shadow")
  if renamed then usage_error("--name: " .. what) end
  errors.at(net.path, net.line, "network", what .. " (rename it, or generate with --name)")
end

-- Parses "gen" arguments.
local function parse_gen(args, from)
  local o = parse_options(args, from, GEN_OPTIONS, {out = ".", cli = false})
  if not o then return nil end
  if o.name then
    local problem = require("spec").name_problem(o.name)
    if problem then usage_error("--name: " .. problem) end
  end
  for _, k in ipairs({"weights", "max-batch"}) do
    if o[k] and not o.inference then usage_error("--" .. k .. " needs --inference") end
  end
  if o.batch and o.inference then usage_error("--batch sets a training build's batch; --inference takes --max-batch") end
  if o.inference and o.cli then usage_error("--cli writes a trainer; it cannot be combined with --inference") end
  if o.python and o.inference then usage_error("--python is for training builds; it cannot be combined with --inference") end
  if o.dispatch then
    if o.isa then usage_error("--dispatch cannot be combined with --isa") end
    -- words ISA or ISA:FAMILY (a variant with a CPU family's defaults, preferred on that family)
    local seen, list = {}, {}
    local words = o.dispatch == "x86" and table.concat(DISPATCH_ORDER, ",") or o.dispatch
    local cpus = require "cpus"
    for w in (words .. ","):gmatch("([^,]*),") do
      local isa, family = w:match("^([^:]*):(.*)$")
      isa = isa or w
      if isa == "x86" then
        usage_error("--dispatch: x86 (all four ISAs) stands alone; to add a family variant, list the ISAs: "
          .. "avx512:zen5," .. table.concat(DISPATCH_ORDER, ","))
      end
      if not DISPATCH_RANK[isa] then
        usage_error("--dispatch: unknown isa '" .. isa .. "' (a comma list of " .. table.concat(DISPATCH_ORDER, ", ")
          .. ", or x86 for all four; ISA:FAMILY for a CPU family's variant)")
      end
      if family then
        if family == "generic" or not cpus.FAMILIES[family] then
          usage_error("--dispatch: unknown cpu family '" .. family .. "' in '" .. w .. "' (one of "
            .. table.concat(cpus.NAMES, ", ", 2, #cpus.NAMES - 1) .. ")")
        end
        if not cpus.changes(family, isa) then
          usage_error("--dispatch: " .. w .. " would be " .. isa .. "'s code (" .. family
            .. "'s defaults do not change " .. isa .. ": chainrule cpu " .. family .. ")")
        end
      end
      if seen[w] then usage_error("--dispatch: '" .. w .. "' is listed twice") end
      seen[w] = true
      list[#list + 1] = {word = w, isa = isa, family = family}
    end
    if not seen.scalar then usage_error("--dispatch: the list must include scalar (the fallback)") end
    -- best first: by ISA, and an ISA's family variants before its plain one
    table.sort(list, function(a, b)
      if a.isa ~= b.isa then return DISPATCH_RANK[a.isa] < DISPATCH_RANK[b.isa] end
      if (a.family == nil) ~= (b.family == nil) then return a.family ~= nil end
      return a.word < b.word
    end)
    o.dispatch_variants = list
  end
  if o.depfile then
    local parent = dir_of(o.depfile)
    -- the --out directory is created before anything is written; any other must exist
    if parent ~= (o.out:gsub("(.)/+$", "%1")) and host.stat(parent) ~= "dir" then
      usage_error("--depfile: directory '" .. parent .. "' does not exist")
    end
    if host.stat(o.depfile) == "dir" then usage_error("--depfile: '" .. o.depfile .. "' is a directory") end
  end
  if o.tune and not o.dispatch_variants then
    if #o.tune_list > 1 then usage_error("--tune: one file (several only with --dispatch, one per variant)") end
    o.tune_file = require("tune").load(o.tune)
  elseif o.tune then
    -- --dispatch: a file per variant at most (o.tunes[isa] = {path, file})
    o.tunes = {}
    for _, path in ipairs(o.tune_list) do
      local f = require("tune").load(path)
      local ok = false
      for _, v in ipairs(o.dispatch_variants) do ok = ok or v.isa == f.isa end
      if not ok then errors.user(path .. ": tuned for " .. f.isa .. ", which --dispatch does not list") end
      if o.tunes[f.isa] then
        usage_error("--tune: " .. o.tunes[f.isa][1] .. " and " .. path .. " both tune the " .. f.isa .. " variant")
      end
      o.tunes[f.isa] = {path, f}
    end
    o.tune = nil
  end
  parse_rows(o)
  if o.cpu then require("cpus").resolve(o.cpu, "chainrule: --cpu") end
  return o
end

-- A path's last component (trailing slashes ignored): what the generated files name the spec
-- and the weights by, so their bytes do not depend on the directory gen ran from.
local function file_name(path)
  return (path:gsub("/+$", ""):match("[^/]*$"))
end
M.file_name = file_name

-- A generated text without its banner's line naming the CPU family whose defaults it took.
local function without_family_line(text)
  return (text:gsub("\n %* defaults: CPU family [^\n]*", ""))
end

-- Runs the pipeline; returns a list of {file name, text}. Each stage returns a new table:
-- spec -> network -> graph -> schedule -> memory plan -> C pieces -> text.
function M.generate(o)
  if o.dispatch_variants then return M.generate_dispatch(o) end
  local spec = require "spec"
  local graph = require "graph"
  local schedule = require "schedule"
  local plan = require "plan"
  local lower = require "lower"
  local target = require "target"
  local template = require "template"

  local net = o.net or spec.load(o.spec)   -- --dispatch loads the spec once for all variants
  local spec_name = net.name
  if o.name or o.inference or o.batch then
    local copy = {}
    for k, v in pairs(net) do copy[k] = v end
    copy.name = o.name or net.name
    if o.inference or o.batch then
      copy.batch = o.batch or o.max_batch or 1
      check_rows(copy, copy.batch, o.batch and "batch" or "max-batch")
    end
    net = copy
  end
  if o.python then check_python_name(net, o.name) end
  local isa
  if o.isa then
    isa = target.resolve(o.isa, "chainrule")
  else
    isa = target.resolve(net.isa or "scalar", net.isa and (net.path .. ":" .. net.isa_line .. ": isa") or "chainrule")
  end
  -- the CPU family's defaults (gen/cpus.lua): --cpu, else this machine's for --isa native
  local cpus = require "cpus"
  local cpu = cpus.resolve(o.cpu or ((o.isa or net.isa) == "native" and "native" or "generic"), "chainrule: --cpu")
  isa = cpus.specialise(isa, cpu)
  local g = graph.build(net)
  if not o.inference then check_train_rows(g, o.batch) end
  local tuned, used
  if o.tune_file then
    if o.tune_file.isa ~= isa.name then
      local tunable = isa.width > 1   -- (chainrule tune refuses scalar: no tiled kernels)
      errors.user(o.tune .. ": tuned for " .. o.tune_file.isa .. ", but generating for " .. isa.name
        .. (tunable and " (run chainrule tune --isa " .. isa.name .. ")"
            or ", which has no tiled kernels to tune (drop --tune, or generate with --isa " .. o.tune_file.isa .. ")"))
    end
    tuned, used = require("tune").lookup(o.tune_file)
  end
  local sched = schedule.decide(g, isa, tuned, o.compact)
  -- (--dispatch's public header: which variants leave which z unwritten)
  local z_unread_by
  for _, v in ipairs(o.variants or {}) do
    for _, layer in ipairs(v.z_unread or {}) do
      z_unread_by = z_unread_by or {}
      z_unread_by[layer] = z_unread_by[layer] or {}
      table.insert(z_unread_by[layer], v.isa)
    end
  end
  local mem = plan.build(g, sched.steps, {inference = o.inference, z_unread_by = z_unread_by})
  local lopts = {spec_path = file_name(o.spec), version = VERSION, inference = o.inference}
  if o.weights then
    lopts.weights, lopts.norm = require("weights").load(o.weights, g, spec_name)
    lopts.weights_path = file_name(o.weights)
  end
  local ctx = lower.build(g, sched, mem, isa, lopts)
  ctx.tuned = false
  -- (named only where its defaults reach this ISA: else the code is the ISA's own)
  ctx.cpu = cpu.name ~= "generic" and cpus.changes(cpu.name, isa.name) and cpu.name
  if used then
    local n, entries = 0, 0
    for _ in pairs(used) do n = n + 1 end
    for _ in pairs(o.tune_file.entries) do entries = entries + 1 end
    -- not one entry is a product of this build: a file of another spec, batch or build kind
    if n == 0 then
      errors.user(o.tune .. ": none of its " .. entries .. " entr" .. (entries == 1 and "y" or "ies") .. " is a product of "
        .. g.name .. " (" .. (o.inference and "inference, at most " .. g.batch .. (g.batch == 1 and " row" or " rows") or "training, batch " .. g.batch)
        .. ") on " .. isa.name .. ": it was tuned for another spec, batch or build (run chainrule tune "
        .. file_name(o.spec) .. (o.inference and " --max-batch " .. g.batch or o.batch and " --batch " .. g.batch or "") .. ")")
    end
    ctx.tuned = {file = file_name(o.tune), cpu = o.tune_file.cpu or false, products = n}
  end
  local outputs = {}
  local function banner(file)
    ctx.file = file
    return (template.render("banner.tpl", ctx):gsub("\n$", ""))
  end
  local header, source = "header.h.tpl", "source.c.tpl"
  if o.inference then header, source = "infer.h.tpl", "infer.c.tpl" end
  if o.variants then
    source = "dispatch.c.tpl"
    ctx.isa, ctx.dispatch, ctx.variants = "dispatch", true, o.variants
    local names = {}
    for k, v in ipairs(o.variants) do names[k] = '"' .. v.isa .. '"' end
    ctx.variant_list = table.concat(names, ", ")
    ctx.entries = lower.entry_points(g, o.inference)
    -- an entry point's stack: its own frame over the deepest variant's (NAME_predict: over its
    -- NAME_work and NAME_predict_with)
    local most = {}
    for _, v in ipairs(o.variants) do
      for _, e in ipairs(v.stack) do most[e[1]] = math.max(most[e[1]] or 0, e[2]) end
    end
    for _, e in ipairs(ctx.stack) do
      e[2] = ctx.stack_frame + (most[e[1]] or ctx.work_bytes + most.predict_with + ctx.stack_frame)
    end
  end
  ctx.banner = banner(g.name .. ".h")
  outputs[#outputs + 1] = {g.name .. ".h", template.render(header, ctx)}
  ctx.banner = banner(g.name .. ".c")
  outputs[#outputs + 1] = {g.name .. ".c", template.render(source, ctx)}
  if not o.compact and sched.kernels.set_compact and #outputs[2][2] > schedule.CODE_BYTES then
    -- too much code: once more with compact row tails (schedule.CODE_BYTES)
    local c = {}
    for k, v in pairs(o) do c[k] = v end
    c.compact, c.net = "auto", o.net
    return M.generate(c)
  end
  if o.cli then
    local family = not o.variants and ctx.cpu or false
    if family then
      -- named only where the family's defaults change this network's code: NAME.c generated
      -- with the ISA's own defaults is compared, but for the banner's defaults line
      local c = {}
      for k, v in pairs(o) do c[k] = v end
      c.cpu, c.cli, c.python, c.depfile, c.net = "generic", false, false, nil, net
      local plain = M.generate(c)
      if without_family_line(plain[2][2]) == without_family_line(outputs[2][2]) then family = false end
    end
    local vars = {name = g.name, NAME = ctx.NAME, spec = file_name(o.spec), loss = g.loss, isa = ctx.isa,
                  isa_guard_flags = ctx.isa_guard_flags, version = VERSION, schedule = g.schedule or false,
                  input_shape = g.input_shape or false, variants = o.variants or false,
                  -- a plain build with a CPU family's defaults: the trainer's ISA (its
                  -- checkpoints, --resume's note, the ranks' agreement) says ISA:FAMILY
                  cpu = family, same_code = o.same_code or false}
    outputs[#outputs + 1] = {g.name .. "_cli.c", template.render("cli.c.tpl", vars)}
  end
  if o.python then
    outputs[#outputs + 1] = {g.name .. ".py", template.render("python.py.tpl", ctx)}
    outputs.python = {name = g.name, units = {{g.name, isa.guard_flags or ""}}}
  end
  -- the deepest entry point's stack bound (the banner lists them all)
  local deepest = ctx.stack[1]
  for _, e in ipairs(ctx.stack) do if e[2] > deepest[2] then deepest = e end end
  outputs.stack, outputs.flags = ctx.stack, isa.guard_flags or ""
  outputs.z_unread = {}
  for _, s in ipairs(sched.steps) do
    if s.z_unread and not o.inference then outputs.z_unread[#outputs.z_unread + 1] = s.first end
  end
  outputs.summary = {source = g.name .. ".c", style = ctx.code_style, phrase = ctx.code_phrase, fmas = ctx.code_fmas,
                     budget = ctx.code_budget, stack = deepest[2], stack_fn = g.name .. "_" .. deepest[1], cpu = ctx.cpu,
                     native = (o.isa or net.isa) == "native" and isa.name or nil, tuned = ctx.tuned}
  return outputs
end

-- --dispatch ISA:FAMILY: the family variants whose NAME_ISA_FAMILY.c is the plain NAME_ISA.c
-- but for the names and the banner's defaults line (the family's defaults do not touch this
-- network's layers), for the summary line; sources[word] = {variant name, its .c text}.
local function plain_copies(list, sources)
  local function code(s)
    return without_family_line(s[2]:gsub(s[1], "NAME"):gsub(s[1]:upper(), "NAME"))
  end
  local same = {}
  for _, d in ipairs(list) do
    if d.family and sources[d.isa] and code(sources[d.word]) == code(sources[d.isa]) then
      same[#same + 1] = d.word
    end
  end
  return same
end

-- --dispatch: one pair per ISA (renamed NAME_ISA) and the public pair, NAME.h (the usual
-- header, NAME_ISA "dispatch") and NAME.c (templates/dispatch.c.tpl: the entry points).
function M.generate_dispatch(o)
  local net = require("spec").load(o.spec)
  local name = o.name or net.name
  if o.python then check_python_name({name = name, path = net.path, line = net.line}, o.name) end
  local outputs, variants = {}, {}
  -- o with the dispatch list replaced by these fields
  local function with(fields)
    local c = {}
    for k, v in pairs(o) do c[k] = v end
    c.dispatch_variants, c.net = nil, net
    for k, v in pairs(fields) do c[k] = v end
    return c
  end
  local words, sources, tuned = {}, {}, {}
  for k, d in ipairs(o.dispatch_variants) do
    -- (--inference --weights: the public NAME.c holds the weights, the variants none; a tune
    -- file tunes every variant of its ISA; ISA:FAMILY is generated with --cpu FAMILY)
    local t = o.tunes and o.tunes[d.isa] or {}
    local vname = name .. "_" .. d.isa .. (d.family and "_" .. d.family or "")
    local out = M.generate(with({isa = d.isa, name = vname, weights = false, tune = t[1] or false,
                                 tune_file = t[2] or false, python = false, cli = false, cpu = d.family or o.cpu}))
    for _, f in ipairs(out) do outputs[#outputs + 1] = f end
    variants[#variants + 1] = {name = vname, isa = d.word, test = DISPATCH_TEST[d.isa], z_unread = out.z_unread,
                               stack = out.stack, flags = out.flags,
                               prefer = d.family and require("cpus").c_test(d.family, "amd", "family", "model")}
    words[k] = d.word
    local tn = out.summary.tuned
    if tn then
      tuned[#tuned + 1] = "tilings of " .. tn.products .. " product" .. (tn.products == 1 and "" or "s") .. " of "
        .. d.word .. " from " .. tn.file
    end
    for _, f in ipairs(out) do
      if f[1] == vname .. ".c" then sources[d.word] = {vname, f[2]} end
    end
  end
  local same = plain_copies(o.dispatch_variants, sources)
  local pub = M.generate(with({isa = "scalar", name = name, variants = variants, same_code = #same > 0 and same}))
  -- the public files first: the depfile's first target is NAME.h whatever the variants' order
  -- (Ninja wants it to be the rule's first output, CMake's chainrule_generate lists NAME.h first)
  for k, f in ipairs(pub) do table.insert(outputs, k, f) end
  if pub.python then
    -- --python: libNAME.so from every variant, each with its flags, and the dispatcher
    for _, v in ipairs(variants) do table.insert(pub.python.units, {v.name, v.flags}) end
    outputs.python = pub.python
  end
  -- the summary line: NAME.c's size, the variants it dispatches to, the deepest entry point's
  -- stack (over the deepest variant's)
  local sm = {}
  for k, v in pairs(pub.summary) do sm[k] = v end
  sm.style, sm.phrase = "dispatch", "entry points dispatching to " .. table.concat(words, ", ")
  if #same > 0 then
    sm.phrase = sm.phrase .. " (" .. table.concat(same, ", ") .. (#same == 1 and " is" or " are")
      .. " the plain variant's code for this network)"
  end
  if #tuned > 0 then sm.phrase = sm.phrase .. ", " .. table.concat(tuned, ", ") end
  outputs.summary = sm
  return outputs
end

-- The one line `gen` prints on stdout: the size of NAME.c, how its products are written,
-- the stack bound of its deepest entry point, and which files were written or already held
-- these bytes.
local function summary(o, outputs, written, kept)
  local emit = require "emit"
  local sm = outputs.summary
  local bytes
  for _, out in ipairs(outputs) do
    if out[1] == sm.source then bytes = #out[2] end
  end
  local dir = o.out == "." and "" or (o.out:gsub("/+$", "") .. "/")
  local how = sm.style == "straight-line"
    and string.format("%s, %s multiply-adds within code_budget %s", sm.phrase,
                      emit.grouped(sm.fmas), emit.grouped(sm.budget))
    or sm.phrase
  if sm.native then how = sm.native .. " (native), " .. how end
  if sm.cpu then how = how .. ", CPU family " .. sm.cpu .. "'s defaults" end
  if sm.tuned then
    how = how .. ", tilings of " .. sm.tuned.products .. " product" .. (sm.tuned.products == 1 and "" or "s") .. " from "
      .. sm.tuned.file
  end
  local parts = {}
  if #written > 0 then parts[#parts + 1] = "wrote " .. table.concat(written, ", ") end
  if #kept > 0 then
    local names = {}
    for i, f in ipairs(kept) do names[i] = f[3] end
    parts[#parts + 1] = table.concat(names, ", ") .. " unchanged"
  end
  return string.format("chainrule: %s%s: %s bytes, %s; stack at most %s bytes (%s); %s", dir, sm.source,
                       emit.grouped(bytes), how, emit.grouped(sm.stack), sm.stack_fn, table.concat(parts, "; "))
end

-- A stack bound past STACK_NOTE_BYTES is more than some threads get (512 KB for a secondary
-- thread on macOS, 1 MB on Windows; 8 MB on Linux): a note on stderr says which entry point
-- and what to do (NAME_predict: most of it is the NAME_work it keeps there, so much as 13 MB
-- for a CNN at --max-batch 128).
M.STACK_NOTE_BYTES = 1 << 20
local function stack_note(sm)
  if sm.stack <= M.STACK_NOTE_BYTES then return end
  local emit = require "emit"
  local name = sm.stack_fn:match("^(.*)_predict$")
  io.stderr:write(string.format("chainrule: note: %s needs up to %s bytes of stack%s\n", sm.stack_fn,
    emit.grouped(sm.stack), name and string.format(", most of it the %s_work it keeps there: call %s_predict_with "
      .. "with a %s_work of your own (static or malloc'ed), or give a smaller --max-batch", name, name, name)
      or ": run it on a thread with that much stack (pthread_attr_setstacksize)"))
end

-- A shell word: the text in single quotes.
local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The runtime's files the generator carries (mk/gen.mk's GEN_RT), written into DIR/runtime/
-- for the programs it compiles: gen --python's library (cr_rng_seed and cr_init_tensor, which
-- NAME.py's Net.init calls as the trainer does) and chainrule tune's timing programs (cr_alloc).
-- Returns true, or nil and a message.
local RUNTIME_FILES = {"cr.h", "cr_internal.h", "cr_util.c", "cr_rng.c", "cr_init.c"}
function M.write_runtime(dir)
  os.execute("mkdir -p " .. sh_quote(dir .. "/runtime"))
  for _, name in ipairs(RUNTIME_FILES) do
    local text = host.template("runtime/" .. name)
    local f = text and io.open(dir .. "/runtime/" .. name, "wb")
    if not f then return nil, "cannot write to " .. dir end
    f:write(text)
    f:close()
  end
  return true
end
-- the runtime's units in gen --python's library
local PY_RUNTIME_UNITS = {"cr_util", "cr_rng", "cr_init"}

-- gen --python: compiles the NAME.h/NAME.c just rendered (with --dispatch, and every variant's
-- NAME_ISA.c with its ISA's flags), and the runtime's initialisation, into libNAME.so with $CC
-- (default cc) in a temporary directory and returns {"libNAME.so", bytes} for write_outputs,
-- so the library is written with the other files or not at all. No compiler, or a failed
-- compile: one line, exit 2, nothing written.
local function build_library(outputs)
  local py = outputs.python
  local cc = os.getenv("CC")
  if not cc or cc:match("^%s*$") then cc = "cc" end
  local first = cc:match("^%s*(%S+)")
  if not os.execute("command -v " .. sh_quote(first) .. " >/dev/null 2>&1") then
    usage_error("--python: no C compiler to build lib" .. py.name .. ".so: '" .. first
      .. "' not found (install one or set CC)")
  end
  local pipe = io.popen("mktemp -d \"${TMPDIR:-/tmp}/chainrule-python.XXXXXX\"")
  local tmp = pipe and pipe:read("l")
  if pipe then pipe:close() end
  if not tmp or tmp == "" then usage_error("--python: cannot make a temporary directory") end
  for _, out in ipairs(outputs) do
    if out[1]:match("%.[ch]$") then
      local f = io.open(tmp .. "/" .. out[1], "wb")
      if not f then os.execute("rm -rf " .. sh_quote(tmp)); usage_error("--python: cannot write to " .. tmp) end
      f:write(out[2])
      f:close()
    end
  end
  -- the runtime's files in a subdirectory: a network named cr_rng keeps its own cr_rng.c
  if not M.write_runtime(tmp) then os.execute("rm -rf " .. sh_quote(tmp)); usage_error("--python: cannot write to " .. tmp) end
  local units = {}
  for _, u in ipairs(py.units) do units[#units + 1] = u end
  for _, u in ipairs(PY_RUNTIME_UNITS) do units[#units + 1] = {"runtime/" .. u, ""} end
  local so = tmp .. "/lib" .. py.name .. ".so"
  -- run in the temporary directory with relative names: its path must not reach the library's bytes
  local steps, objects = {}, {}
  for k, u in ipairs(units) do
    steps[k] = string.format("%s -std=c11 -O2 -fPIC %s -c -o %s.o %s.c", cc, u[2], u[1], u[1])
    objects[k] = u[1] .. ".o"
  end
  steps[#steps + 1] = string.format("%s -shared -o lib%s.so %s -lm", cc, py.name, table.concat(objects, " "))
  local cmd = string.format("cd %s && { %s; } >log 2>&1", sh_quote(tmp), table.concat(steps, " && "))
  local ok, how, code = os.execute(cmd)   -- (os.execute ignores SIGINT: Ctrl-C ends the compiler)
  local bytes = ok and host.read_plain(so, 1 << 30)
  if not bytes then
    local log = host.read_plain(tmp .. "/log", 1 << 20) or ""
    os.execute("rm -rf " .. sh_quote(tmp))
    if how == "signal" or (how == "exit" and (code == 129 or code == 130 or code == 143)) then
      usage_error("--python: interrupted by a signal while building lib" .. py.name .. ".so; nothing written")
    end
    usage_error("--python: '" .. cc .. "' failed to build lib" .. py.name .. ".so: "
      .. ((log:match("[^\n]*error[^\n]*") or log:match("[^\n]+") or "no message")))
  end
  os.execute("rm -rf " .. sh_quote(tmp))
  return {"lib" .. py.name .. ".so", bytes}
end

local function gen(args)
  local o = parse_gen(args, 2)
  if not o then print(USAGE) return 0 end
  local outputs = M.generate(o)
  if o.python then outputs[#outputs + 1] = build_library(outputs) end
  -- Everything is rendered (and compiled) before anything is written: a failure leaves no files.
  local dir = o.out == "." and "" or (o.out:gsub("/+$", "") .. "/")
  local files, targets = {}, {}
  for _, out in ipairs(outputs) do
    files[#files + 1] = {dir .. out[1], out[2], out[1]}
    targets[#targets + 1] = dir .. out[1]
  end
  -- the files the outputs depend on (the depfile's), each with what it is
  local named = {{o.spec, "the spec"}}
  for _, p in ipairs(o.tune_list or {}) do named[#named + 1] = {p, "a --tune file"} end
  for _, p in ipairs(o.weights and require("weights").files_read or {}) do named[#named + 1] = {p, "a --weights file"} end
  local exe = host.exe_path()
  if exe then named[#named + 1] = {exe, "this program"} end
  local inputs = {}
  for k, n in ipairs(named) do inputs[k] = n[1] end
  if o.depfile then files[#files + 1] = {o.depfile, depfile_text(targets, inputs), o.depfile} end
  check_clobber(files, named, o.depfile)
  local ok, made, made_before = host.mkdir_p(o.out)
  if not ok then
    remove_dirs(made_before)
    usage_error("cannot create directory '" .. o.out .. "': " .. made)
  end
  -- a failed write leaves no files (write_outputs) and no directory this run made
  local written, kept = write_outputs(files, function() remove_dirs(made) end)
  refresh_times(kept, inputs)
  print(summary(o, outputs, written, kept))
  stack_note(outputs.summary)
  return 0
end

-- chainrule tune SPEC [--isa ISA] [--cpu CPU] [--out FILE] [--budget SECONDS] [--batch N | --max-batch N]
local function parse_tune(args)
  local o = parse_options(args, 2, TUNE_OPTIONS, {budget = 20})
  if not o then return nil end
  if type(o.budget) == "string" then
    local b = o.budget:match("^%d+%.?%d*$") and tonumber(o.budget)
    if not b or b < 0.1 or b > 3600 then usage_error("--budget: expected seconds from 0.1 to 3600, got '" .. o.budget .. "'") end
    o.budget = b
  end
  parse_rows(o)
  if o.cpu then require("cpus").resolve(o.cpu, "chainrule tune: --cpu") end
  if o.batch and o.max_batch then usage_error("tune: --batch (a training build) and --max-batch (an inference build) exclude each other") end
  return o
end

local function tune(args)
  local o = parse_tune(args)
  if not o then print(USAGE) return 0 end
  -- what would fail after the timing fails before it: the rows, and where the file goes
  o.net = require("spec").load(o.spec)   -- (tune.run takes it: the spec is run once)
  if o.batch or o.max_batch then check_rows(o.net, o.batch or o.max_batch, o.batch and "batch" or "max-batch") end
  if not o.max_batch then
    local net = o.batch and setmetatable({batch = o.batch}, {__index = o.net}) or o.net
    check_train_rows(require("graph").build(net), o.batch, "tune --max-batch N")
  end
  local out = o.out or (o.net.name .. ".tune")
  if same_file(out, o.spec) then usage_error("--out: '" .. out .. "' is the spec: it would be overwritten") end
  local kind = host.stat(out)
  if kind == "dir" then usage_error("--out: '" .. out .. "' is a directory") end
  -- a new file: its directory must exist and take one (an existing file or stream, such as
  -- /dev/stdout or an open /dev/fd/N, is written through as runtime/cr_out.c does)
  if not kind then
    local dir = dir_of(out)
    if host.stat(dir) ~= "dir" then usage_error("--out: directory '" .. dir .. "' does not exist") end
    local probe = dir .. "/.chainrule-tune-" .. os.time() .. "-" .. math.random(1, 1 << 30)
    local f, err = io.open(probe, "wb")
    if not f then usage_error("--out: cannot write in '" .. dir .. "': " .. tostring(err):gsub("^[^:]*: ", "")) end
    f:close()
    os.remove(probe)
  end
  local text = require("tune").run(o, function(line) io.stderr:write(line, "\n") end)
  write_outputs({{out, text, out}})
  print("chainrule: wrote " .. out)
  return 0
end

-- Hidden: chainrule render TEMPLATE [name=value ...] renders a template file from disk
-- to stdout (tests of the template engine).
local function render(args)
  local path = args[2]
  if not path then usage_error("render needs a template file") end
  local text = read_file(path)
  if not text then usage_error("cannot read template '" .. path .. "'") end
  local vars = {}
  for i = 3, #args do
    local k, v = args[i]:match("^([%w_]+)=(.*)$")
    if not k then usage_error("render takes name=value pairs, got '" .. args[i] .. "'") end
    vars[k] = v
  end
  local template = require "template"
  local ok, result = pcall(function() return template.compile(path, text)(vars) end)
  if not ok then usage_error("template error: " .. tostring(result)) end
  io.write(result)
  return 0
end

-- Hidden: chainrule selftest FILE runs a Lua test file inside the generator (with its
-- modules available through require), for unit tests of the Lua side.
local function selftest(args)
  local path = args[2]
  if not path then usage_error("selftest needs a Lua file") end
  local chunk, err = loadfile(path, "t")
  if not chunk then usage_error("cannot load '" .. path .. "': " .. tostring(err)) end
  return chunk(table.unpack(args, 3)) or 0
end

-- chainrule cpu [CPU]: the family CPU (default native) and the defaults it changes; for
-- native also the ISAs the host runs and native's pick.
local function cpu(args)
  if args[3] then usage_error("cpu: unexpected argument '" .. args[3] .. "' (try --help)") end
  if args[2] == "--help" or args[2] == "-h" then print(USAGE) return 0 end
  local which = args[2] or "native"
  print(require("cpus").describe(require("cpus").resolve(which, "chainrule cpu")))
  if which == "native" then
    local target, runs = require "target", {}
    for _, n in ipairs(target.NAMES) do
      if n ~= "native" and target.host_supports(n) then runs[#runs + 1] = n end
    end
    print("isas: this machine runs " .. table.concat(runs, ", ") .. "; --isa native is "
      .. target.resolve("native", "chainrule cpu").name)
  end
  return 0
end

function M.main(args)
  local cmd = args[1]
  if cmd == nil then
    io.stderr:write(USAGE, "\n")
    return 2
  elseif cmd == "--help" or cmd == "-h" or cmd == "help" then
    print(USAGE)
    return 0
  elseif cmd == "--version" then
    print("chainrule " .. VERSION)
    return 0
  elseif cmd == "gen" then
    return gen(args)
  elseif cmd == "tune" then
    return tune(args)
  elseif cmd == "cpu" then
    return cpu(args)
  elseif cmd == "render" then
    return render(args)
  elseif cmd == "selftest" then
    return selftest(args)
  elseif cmd:sub(1, 1) == "-" then
    usage_error("unknown option '" .. cmd .. "' (try --help)")
  end
  usage_error("unknown command '" .. cmd .. "' (try --help)")
end

return M
