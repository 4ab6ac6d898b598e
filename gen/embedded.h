/* The generator's Lua modules and templates, compiled into the binary (see gen/embed.c). */
#ifndef CHAINRULE_EMBEDDED_H
#define CHAINRULE_EMBEDDED_H
#include <stddef.h>

typedef struct {
  const char *kind;   /* "lua" or "tpl" */
  const char *name;   /* module name ("ops.linear") or template name ("source.c.tpl") */
  const char *path;   /* source path in the repository, for error messages */
  const char *text;
  size_t len;
} embedded_file;

extern const embedded_file embedded_files[];   /* ends with a row of zeros */

#endif
