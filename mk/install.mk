# Installing chainrule for other projects (scripts/install.sh holds the file list).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   the generator, libcr.a + libcrtrain.a and
#                     their headers, pkg-config files (chainrule, chainrule-train), the CMake
#                     package (find_package(chainrule), chainrule_generate), a man page, and
#                     share/chainrule/ (example specs, docs)
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

# ---------------------------------------------------------------- tests (tests/install/)
#   make test-install  install into a temporary prefix and build two consumer projects from it
#                      (Makefile + pkg-config, CMake), each trains; second builds are no-ops
TEST_GOALS += test-install
.PHONY: test-install
test-install: $(BUILD)/lua-static/chainrule $(BUILD)/libcr.a $(BUILD)/libcrtrain.a
	@tests/install/run.sh '$(BUILD)' '$(VERSION)'

# ---------------------------------------------------------------- tests (tests/python/)
#   make test-python   gen --python against PyTorch: same outputs, same parameters after 10
#                      SGD steps, training mode (forward_train, seed, train/eval), init against
#                      the trainer's --epochs 0 checkpoint (bit for bit), ValueError
#                      for bad arguments (needs scripts/deps.sh --python;
#                      prints SKIP without torch/numpy)
TEST_GOALS += test-python
.PHONY: test-python
test-python: $(BUILD)/chainrule $(BUILD)/libcr.a $(BUILD)/libcrtrain.a
	@rm -rf $(BUILD)/tests/python && mkdir -p $(BUILD)/tests/python
	@CC='$(CC)' $(PYTHON) tests/python/test_torch.py $(BUILD)/chainrule $(BUILD)/tests/python $(BUILD)
