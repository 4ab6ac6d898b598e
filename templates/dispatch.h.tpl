@-- Included by header.h.tpl and infer.h.tpl (--dispatch): choosing the variant.
/* The variant the entry points run: $(variant_list:gsub('"', "")) (best first), the best this
   CPU supports, chosen on the first call (ISA:FAMILY only on a CPU of that family);
   $(name)_use_isa forces one (0, or -1 when it was not generated or this CPU cannot run its
   ISA). */
const char *$(name)_isa(void);
int $(name)_use_isa(const char *isa);
