# Installing chainrule for other projects (scripts/install.sh holds the file list).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   the generator, libcr.a + libcrtrain.a and
#                     their headers, pkg-config files (chainrule, chainrule-train), the CMake
#                     package (find_package(chainrule), chainrule_generate), a man page, and
#                     share/chainrule/ (example specs, docs, the Python module)
#   make uninstall [PREFIX=...] [DESTDIR=]       remove exactly those files
#   make install LUA_STATIC=1                    the same with Lua linked statically
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^return "\(.*\)"$$/\1/p' gen/version.lua)

.PHONY: install uninstall
install: $(BUILD)/chainrule $(BUILD)/libcr.a $(BUILD)/libcrtrain.a
	@scripts/install.sh install '$(DESTDIR)' '$(PREFIX)' '$(BUILD)' '$(VERSION)'

uninstall:
	@scripts/install.sh uninstall '$(DESTDIR)' '$(PREFIX)' '$(BUILD)' '$(VERSION)'
