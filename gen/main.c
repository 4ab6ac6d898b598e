/* chainrule: the generator's host. It creates one Lua state with a counting allocator,
   registers the embedded Lua modules and templates, and runs the driver (gen/driver.lua)
   in a single protected call. Everything else happens in Lua.

   Exit status: 0 success, 2 user error (bad spec, bad flag: the driver raises a table
   {message = "..."} and we print that one line), 1 internal error (anything else: a
   generator bug, printed with a traceback). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "cr.h"   /* the runtime's reader and writer policies (build/libcr.a) */
#include "embedded.h"

/* Step of the count hook: the limits are checked every HOOK_STEP instructions. Small,
   because one instruction may be a C call that works through a large string. */
#define HOOK_STEP 100

/* Allocator state and the limits that apply while a spec runs (host.run_limited). */
typedef struct {
  size_t used;        /* bytes currently allocated by Lua */
  size_t limit;       /* 0: unlimited; else allocations beyond this fail */
  long long steps;    /* instructions counted since the limit was set */
  long long max_steps;
  double deadline;    /* CLOCK_MONOTONIC seconds after which the limited call is stopped */
  const char *why;    /* the message when a limit stops it */
  const char *chunk;  /* source name of the limited chunk, to record its current line */
  int line;           /* last line of that chunk seen by the line hook (0: none) */
} host_state;

static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  host_state *h = ud;
  if (ptr == NULL) osize = 0;   /* then osize only encodes the object type */
  if (nsize == 0) {
    free(ptr);
    h->used -= osize;
    return NULL;
  }
  if (h->limit && nsize > osize && h->used + (nsize - osize) > h->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) h->used = h->used - osize + nsize;
  return p;
}

static host_state *state_of(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void limit_hook(lua_State *L, lua_Debug *ar) {
  host_state *h = state_of(L);
  if (ar->event == LUA_HOOKLINE) {
    /* A tight loop re-enters the same line: skip the source lookup then. */
    if (ar->currentline != h->line && lua_getinfo(L, "S", ar) && h->chunk &&
        strcmp(ar->source, h->chunk) == 0)
      h->line = ar->currentline;
    return;
  }
  /* Instructions bound the Lua work; the clock bounds C work inside instructions
     (comparing or copying long strings in a loop). One message for both, so it does
     not depend on the machine's speed. */
  h->steps += HOOK_STEP;
  if (h->steps > h->max_steps || now_seconds() > h->deadline) {
    lua_pushstring(L, h->why);
    lua_error(L);
  }
}

/* host.run_limited(f, chunkname, max_instructions, max_bytes, max_seconds, why)
   -> true, result or false, message, kind ("error", "memory"), line. Runs f() with an
   instruction and wall-clock limit (count hook; raises `why`) and a memory limit of
   max_bytes above what is in use now; all are switched off again before returning.
   Errors never escape. */
static int host_run_limited(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  const char *chunk = luaL_checkstring(L, 2);
  lua_Integer max_steps = luaL_checkinteger(L, 3);
  lua_Integer max_bytes = luaL_checkinteger(L, 4);
  lua_Number max_seconds = luaL_checknumber(L, 5);
  const char *why = luaL_checkstring(L, 6);
  host_state *h = state_of(L);
  lua_settop(L, 6);                    /* keeps the chunk name and message alive */
  lua_rotate(L, 1, -1);                /* f on top */
  h->steps = 0;
  h->deadline = now_seconds() + (double)max_seconds;
  h->why = why;
  h->max_steps = max_steps;
  h->chunk = chunk;
  h->line = 0;
  h->limit = h->used + (size_t)max_bytes;
  lua_sethook(L, limit_hook, LUA_MASKCOUNT | LUA_MASKLINE, HOOK_STEP);
  int status = lua_pcall(L, 0, 1, 0);
  lua_sethook(L, NULL, 0, 0);
  h->limit = 0;
  h->chunk = NULL;
  if (status == LUA_OK) {
    lua_pushboolean(L, 1);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  lua_pushstring(L, status == LUA_ERRMEM ? "memory" : "error");
  lua_pushinteger(L, h->line);
  return 4;
}

/* host.template(name) -> text or nil */
static int host_template(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (const embedded_file *f = embedded_files; f->name; f++)
    if (strcmp(f->kind, "tpl") == 0 && strcmp(f->name, name) == 0) {
      lua_pushlstring(L, f->text, f->len);
      return 1;
    }
  lua_pushnil(L);
  return 1;
}

/* host.mkdir_p(path) -> true and the directories it made, or false, a message and the
   directories it made before it failed: creates path and its parents. The list (outermost
   first) names only the directories this call's own mkdir created, so a caller that takes
   them away again never removes one another process made meanwhile. */
static int host_mkdir_p(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  char *p = lua_newuserdatauv(L, len + 1, 0);   /* collected: nothing leaks if a push fails */
  memcpy(p, path, len + 1);
  lua_newtable(L);
  int made = 0, ok = 1;
  const char *why = NULL;
  for (size_t i = 1; i <= len && ok; i++) {
    if (p[i] != '/' && p[i] != '\0') continue;
    char c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0777) == 0) {
      lua_pushstring(L, p);
      lua_rawseti(L, -2, ++made);
    } else if (errno != EEXIST) {
      ok = 0;
      why = strerror(errno);
    }
    p[i] = c;
  }
  struct stat st;
  if (ok && !(stat(path, &st) == 0 && S_ISDIR(st.st_mode))) ok = 0, why = "not a directory";
  lua_pushboolean(L, ok);
  lua_insert(L, -2);
  if (ok) return 2;
  lua_pushstring(L, why);
  lua_insert(L, -2);
  return 3;
}

/* host.read_plain(path, max_bytes) -> text, or nil and a one-line message: the runtime's
   reader policy (runtime/cr_file.c): a regular file only (a FIFO, /dev/zero or a directory
   is refused at once, the open never blocks), at most max_bytes, checked while reading. */
static int host_read_plain(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer max = luaL_checkinteger(L, 2);
  uint8_t *data;
  size_t len;
  cr_err e;
  if (max < 1 || cr_read_plain(path, &data, &len, (size_t)max, &e) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, max < 1 ? "bad limit" : e.msg);
    return 2;
  }
  lua_pushlstring(L, (const char *)data, len);
  free(data);
  return 1;
}

/* host.write_files({{path, text}, ...}) -> true, or false and a one-line message. The
   runtime's writer policy (runtime/cr_out.c) for several files as one step: every text is
   written to its own temporary file beside its target and synced before any is renamed
   into place, so a failure while writing (a full disk, a file-size limit) changes none of
   the targets and leaves no temporary behind. */
static int host_write_files(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  if (n < 0 || n > 64) return luaL_error(L, "write_files: bad list");
  cr_out outs[64];
  cr_err e = {{0}};
  int opened = 0, ok = 1;
  for (lua_Integer i = 1; i <= n && ok; i++) {
    lua_rawgeti(L, 1, i);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    size_t len;
    const char *path = lua_tostring(L, -2), *text = lua_tolstring(L, -1, &len);
    /* the strings stay alive in the list while we hold pointers into them */
    lua_pop(L, 3);
    if (!path || !text) {
      snprintf(e.msg, sizeof e.msg, "write_files: entry %d is not {path, text}", (int)i);
      ok = 0;
      break;
    }
    if (cr_out_open(&outs[opened], path, &e) != 0) {
      ok = 0;
      break;
    }
    opened++;
    if (cr_out_write(&outs[opened - 1], text, len, &e) != 0 ||
        cr_out_finish(&outs[opened - 1], &e) != 0)
      ok = 0;
  }
  for (int i = 0; i < opened && ok; i++)
    if (cr_out_commit(&outs[i], &e) != 0) ok = 0;
  for (int i = 0; i < opened; i++) cr_out_abort(&outs[i]);   /* a no-op once committed */
  if (ok) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, e.msg);
  return 2;
}

/* host.exe_path() -> the absolute path of this binary (/proc/self/exe), or nil: a depfile names
   the generator as a prerequisite, so a rebuilt generator regenerates. */
static int host_exe_path(lua_State *L) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0 || n >= (ssize_t)sizeof buf - 1) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/* host.stat(path) -> "file", "dir" or "other", the modification time as seconds and
   nanoseconds (two integers) and the file's identity ("device:inode", equal for two paths
   of one file), or nil if it does not exist (stat follows symlinks). */
static int host_stat(lua_State *L) {
  struct stat st;
  if (stat(luaL_checkstring(L, 1), &st) != 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other");
  lua_pushinteger(L, (lua_Integer)st.st_mtim.tv_sec);
  lua_pushinteger(L, (lua_Integer)st.st_mtim.tv_nsec);
  lua_pushfstring(L, "%I:%I", (lua_Integer)st.st_dev, (lua_Integer)st.st_ino);   /* the file's identity */
  return 4;
}

/* host.listdir's open DIR, in a userdata whose __gc closes it should a push raise out of
   memory. */
static int dir_gc(lua_State *L) {
  DIR **d = luaL_checkudata(L, 1, "chainrule.dir");
  if (*d) closedir(*d), *d = NULL;
  return 0;
}

/* host.listdir(path) -> {name, ...} (not . and .., in no particular order), or nil and a
   message. */
static int host_listdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR **d = lua_newuserdatauv(L, sizeof *d, 0);
  *d = NULL;
  if (luaL_newmetatable(L, "chainrule.dir")) {
    lua_pushcfunction(L, dir_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  *d = opendir(path);
  if (!*d) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: cannot list: %s", path, strerror(errno));
    return 2;
  }
  lua_newtable(L);
  lua_Integer n = 0;
  for (struct dirent *e; (e = readdir(*d)) != NULL;) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, -2, ++n);
  }
  closedir(*d), *d = NULL;
  return 1;
}

/* host.touch(path) -> true, or false and a message: sets the file's times to now (its bytes
   and inode stay). */
static int host_touch(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (utimensat(AT_FDCWD, path, NULL, 0) != 0) {
    lua_pushboolean(L, 0);
    lua_pushfstring(L, "%s: cannot update its time: %s", path, strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg host_funcs[] = {
  {"exe_path", host_exe_path},
  {"stat", host_stat},
  {"touch", host_touch},
  {"listdir", host_listdir},
  {"mkdir_p", host_mkdir_p},
  {"read_plain", host_read_plain},
  {"write_files", host_write_files},
  {"run_limited", host_run_limited},
  {"template", host_template},
  {NULL, NULL}
};

/* Message handler for the driver's protected call: user errors (tables with a
   message field) pass through untouched; anything else gets a traceback. */
static int msghandler(lua_State *L) {
  if (lua_type(L, 1) == LUA_TTABLE) return 1;
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs on a protected stack: register modules and host functions, call driver.main(argv). */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const embedded_file *f = embedded_files; f->name; f++) {
    if (strcmp(f->kind, "lua") != 0) continue;
    lua_pushfstring(L, "@%s", f->path);
    if (luaL_loadbufferx(L, f->text, f->len, lua_tostring(L, -1), "t") != LUA_OK)
      return lua_error(L);
    lua_setfield(L, -3, f->name);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  luaL_newlib(L, host_funcs);
  lua_setglobal(L, "host");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "driver");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 0);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  /* Past a file-size limit a write fails with EFBIG and is reported (one line, nothing left
     behind) instead of SIGXFSZ ending the run in the middle of writing. */
  signal(SIGXFSZ, SIG_IGN);
  host_state h = {0};
  lua_State *L = lua_newstate(host_alloc, &h);
  if (L == NULL) {
    fprintf(stderr, "chainrule: cannot create Lua state: not enough memory\n");
    return 1;
  }
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 1);
  int code = 0;
  if (status != LUA_OK) {
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_getfield(L, -1, "message");
      fprintf(stderr, "%s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "chainrule: error");
      code = 2;
    } else {
      const char *msg = lua_tostring(L, -1);
      fprintf(stderr, "chainrule: internal error: %s\n", msg ? msg : "(no message)");
      code = 1;
    }
  } else if (lua_isinteger(L, -1)) {
    code = (int)lua_tointeger(L, -1);
  }
  lua_close(L);
  return code;
}
