# Makefile — builds ./runctl, the fake API server and the tests with pkg-config;
# targets: all deps check lint demo fake bench install uninstall man deb rock types clean (and check-asan,
# check-valgrind).
PREFIX  ?= /usr/local
# LUA=luajit (or `make luajit`): the library and the runctl.so module for LuaJIT
# 2.1 (the Lua 5.1 API: lua/compat51.h) from the same sources, in build-luajit/.
LUA     ?= lua5.4
ifeq ($(LUA),luajit)
BUILD   ?= build-luajit
endif
BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS     = lua5.4 libcurl lua5.4-cjson
FAKE_PKGS = libmicrohttpd jansson

# PKG_CFLAGS and CURL_LIBS are given by the LuaRocks build (`make rock`) instead.
PKG_CFLAGS ?= $(shell pkg-config --cflags $(PKGS))
CURL_LIBS  ?= $(shell pkg-config --libs libcurl)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fPIC $(CFLAGS) \
             $(PKG_CFLAGS) -DRUNCTL_DATADIR='"$(PREFIX)/share/runctl"'
LIBS     = $(shell pkg-config --libs $(PKGS)) -lm
FAKE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra $(CFLAGS) $(shell pkg-config --cflags $(FAKE_PKGS))
FAKE_LIBS = $(shell pkg-config --libs $(FAKE_PKGS)) -lpthread -lm
LIBNAME  = runctl
COMPAT_OBJ = $(BUILD)/lua/compat51.o
LUA_ABI  = 5.4
PC_EDIT  =
ifeq ($(LUA),luajit)
include packaging/luajit.mk
else
.PHONY: luajit
luajit:
	@$(MAKE) --no-print-directory LUA=luajit
endif

CORE_OBJ = $(BUILD)/core/engine.o $(BUILD)/core/transfer.o $(BUILD)/core/respbuf.o \
           $(BUILD)/core/limiter.o $(BUILD)/core/timers.o $(BUILD)/core/ratelimit.o \
           $(BUILD)/core/url.o $(BUILD)/core/wire.o $(BUILD)/core/patcost.o \
           $(BUILD)/core/text.o $(BUILD)/core/outfile.o
LUA_OBJ  = $(BUILD)/lua/sched.o $(BUILD)/lua/task.o $(BUILD)/lua/open.o $(BUILD)/lua/handles.o \
           $(BUILD)/lua/l_core.o $(BUILD)/lua/l_request.o $(BUILD)/lua/headers.o \
           $(BUILD)/lua/l_sender.o $(BUILD)/lua/l_task.o \
           $(BUILD)/lua/l_json.o $(BUILD)/lua/ext.o $(BUILD)/lua/l_outfile.o $(BUILD)/embedded.o $(COMPAT_OBJ)
LIB_LUA  = $(wildcard lua/lib/*.lua lua/lib/*/*.lua)
HEADERS  = $(wildcard core/*.h lua/*.h)

BIN      = $(if $(filter build,$(BUILD)),runctl,$(BUILD)/runctl)
FAKEAPI  = $(BUILD)/fakeapi
UNIT     = $(BUILD)/test_core

.PHONY: all deps check check-asan check-valgrind demo bench install uninstall clean tools lint

all: $(BIN) $(FAKEAPI) $(UNIT)

deps:
	@sh tools/deps.sh

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# lua/lib is embedded precompiled (tools/embed.c): the tool runs here, with this
# machine's Lua, so the bytecode is this Lua's; lua/open.c compiles the embedded
# source instead when the Lua running it is another release (or its header
# differs: word size, byte order). EMBED_LUA empty (make rock, which has Lua's
# headers but not its library) embeds the source alone. Cross-building: the
# tool must run on this machine, so give EMBED_CC=cc (with EMBED_LUA naming
# this machine's Lua) or EMBED_LUA= .
EMBED_CC  ?= $(CC)
EMBED_LUA ?= -DEMBED_BYTECODE $(PKG_CFLAGS) $(shell pkg-config --libs lua5.4)
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(BUILD)
	$(EMBED_CC) -O1 -Wall -Wextra $< -o $@ $(EMBED_LUA)

$(BUILD)/embedded.c: $(BUILD)/embed $(LIB_LUA)
	$(BUILD)/embed lua/lib $(LIB_LUA) > $@.tmp && mv $@.tmp $@

$(BUILD)/embedded.o: $(BUILD)/embedded.c lua/embedded.h
	$(CC) $(ALL_CFLAGS) -Ilua -c $< -o $@

$(BIN): $(BUILD)/lua/main.o $(LUA_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LIBS)

$(FAKEAPI): $(wildcard tests/fakeapi/*.c tests/fakeapi/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(FAKE_CFLAGS) $(filter %.c,$^) -o $@ $(FAKE_LIBS)

$(UNIT): $(wildcard tests/unit/*.c tests/unit/*.h) $(CORE_OBJ)
	$(CC) $(ALL_CFLAGS) $(filter %.c %.o,$^) -o $@ $(LIBS)

# check: every test on the normal build, then again on the ASan+UBSan build.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(SAN)" all
	@$(MAKE) --no-print-directory LUA=luajit
	@$(ASAN_ENV) RUNCTL=./$(BIN) FAKEAPI=$(FAKEAPI) UNIT=$(UNIT) LUAJIT_BUILD=build-luajit \
	  ASAN_RUNCTL=build-asan/runctl ASAN_FAKEAPI=build-asan/fakeapi ASAN_UNIT=build-asan/test_core sh tests/run.sh

SAN = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(SAN)" all
	@NO_FUZZ=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  RUNCTL=build-asan/runctl FAKEAPI=build-asan/fakeapi UNIT=build-asan/test_core sh tests/run.sh

check-valgrind: deps
	@$(MAKE) --no-print-directory all
	@NO_FUZZ=1 RUNCTL_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect" \
	  RUNCTL=./$(BIN) FAKEAPI=$(FAKEAPI) UNIT=$(UNIT) sh tests/run.sh

# lint: luacheck over lua/lib, scripts, tests, tools, bench (.luacheckrc); make check runs it too.
lint:
	@sh tests/lint.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/demo.sh ./$(BIN) $(FAKEAPI)

# The fake API on 127.0.0.1:FAKE_PORT, seeded with an object of every kind
# (tools/demo-seed.json), in the foreground until Ctrl-C: what make demo
# suggests trying next.
FAKE_PORT ?= 8080
.PHONY: fake
fake: $(FAKEAPI)
	@echo "fake API on http://127.0.0.1:$(FAKE_PORT)/v1 (Ctrl-C stops it); in another shell:"
	@echo "  export OPENAI_BASE_URL=http://127.0.0.1:$(FAKE_PORT)/v1 OPENAI_API_KEY=sk-fake"
	@$(FAKEAPI) --port $(FAKE_PORT) --seed tools/demo-seed.json --quiet

clean:
	rm -rf build build-asan build-luajit runctl runctl_*.deb

# ---- reliability test tools (tests/tools) ----
BADPEER = $(BUILD)/badpeer
all: $(BADPEER)
$(BADPEER): tests/tools/badpeer.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -Wall -Wextra $(CFLAGS) $< -o $@

# ---- fuzzing (libFuzzer, clang): core's URL builder and wire parsers ----
FUZZ_TARGETS = fuzz_url fuzz_header fuzz_retry_after fuzz_text fuzz_json_encode
FUZZ_TIME ?= 5
.PHONY: fuzz fuzz-build
fuzz-build: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
build/fuzz/%: tests/fuzz/%.c core/url.c core/wire.c core/url.h core/wire.h
	@mkdir -p build/fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(filter %.c,$^) -o $@ $(shell pkg-config --libs libcurl) -lm
# The sanitizer (core/text.c) alone; json.encode's limits in a Lua state with a 1 MB allocator.
build/fuzz/fuzz_text: tests/fuzz/fuzz_text.c core/text.c core/text.h
	@mkdir -p build/fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(filter %.c,$^) -o $@
build/fuzz/fuzz_json_encode: tests/fuzz/fuzz_json_encode.c lua/l_json.c core/text.c core/text.h lua/host.h
	@mkdir -p build/fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(PKG_CFLAGS) $(filter %.c,$^) -o $@ $(shell pkg-config --libs lua5.4 lua5.4-cjson) -lm
# Runs each target for FUZZ_TIME seconds from its corpus; prints TAP.
fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_TARGETS)

# ---- embedding (issue 6): librunctl.a/.so, the runctl.so Lua module, example hosts ----
# The libraries hold every object but lua/main.o and leave Lua's own symbols to
# the host (a second copy of Lua in one process breaks it). The module also
# takes cjson from the interpreter (l_json.c built with RUNCTL_SYSTEM_CJSON).
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
LUA_CMODDIR ?= $(LIBDIR)/lua/$(LUA_ABI)
RC_VERSION   = $(shell sed -n 's/^\#define RUNCTL_VERSION "\(.*\)"/\1/p' lua/runctl.h)
SANDBOX_OBJ  = $(BUILD)/lua/sandbox.o $(BUILD)/lua/sandbox_limits.o $(BUILD)/lua/sandbox_match.o \
               $(BUILD)/lua/sandbox_hosts.o $(BUILD)/lua/sandbox_env.o
EMBED_OBJ    = $(CORE_OBJ) $(LUA_OBJ) $(SANDBOX_OBJ)
MODULE_OBJ   = $(CORE_OBJ) $(filter-out $(BUILD)/lua/l_json.o,$(LUA_OBJ)) \
               $(BUILD)/module/l_json.o $(BUILD)/lua/module.o
EMBED_LIBS  ?= $(filter-out -llua5.4,$(shell pkg-config --libs libcurl lua5.4-cjson)) -lm
LIB_A        = $(BUILD)/lib$(LIBNAME).a
LIB_SO       = $(BUILD)/lib$(LIBNAME).so
LIB_SONAME   = lib$(LIBNAME).so.$(firstword $(subst ., ,$(RC_VERSION)))
LIB_REAL     = lib$(LIBNAME).so.$(RC_VERSION)
LUA_MODULE   = $(BUILD)/module/runctl.so
EXAMPLES     = $(BUILD)/frame-loop $(BUILD)/sandbox-host $(BUILD)/minimal-host
EMBED_TEST   = $(BUILD)/test_embed

.PHONY: embed install-embed
all: embed
embed: $(LIB_A) $(LIB_SO) $(LUA_MODULE) $(EXAMPLES) $(EMBED_TEST)

$(LIB_A): $(EMBED_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# Export lists: the library's API (runctl_*), the module's entry point.
$(BUILD)/librunctl.map $(BUILD)/module/runctl.map:
	@mkdir -p $(dir $@)
	@case $@ in *module*) sym=luaopen_runctl ;; *) sym='runctl_*' ;; esac; \
	  printf '{ global: %s; local: *; };\n' "$$sym" > $@

$(LIB_SO): $(EMBED_OBJ) $(BUILD)/librunctl.map
	$(CC) -shared $(CFLAGS) -Wl,-soname,$(LIB_SONAME) -Wl,--version-script=$(BUILD)/librunctl.map \
	  $(EMBED_OBJ) -o $@ $(EMBED_LIBS)

$(BUILD)/module/l_json.o: lua/l_json.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DRUNCTL_SYSTEM_CJSON -c $< -o $@

$(LUA_MODULE): $(MODULE_OBJ) $(BUILD)/module/runctl.map
	$(CC) -shared $(CFLAGS) -Wl,--version-script=$(BUILD)/module/runctl.map \
	  $(MODULE_OBJ) -o $@ $(CURL_LIBS) -lm

$(EXAMPLES): $(BUILD)/%: examples/%.c lua/runctl.h $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(HOST_CFLAGS) -Ilua $< $(LIB_A) -o $@ $(LIBS)

$(EMBED_TEST): tests/embed/test_embed.c $(HEADERS) $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(HOST_CFLAGS) -Ilua $< $(LIB_A) -o $@ $(LIBS)

# Adds to `make install`: libraries (librunctl.so.VERSION with its soname and
# dev links), header, runctl.pc (written here, so it names this PREFIX, and
# outside the linker's own folders adds an rpath so hosts find the library
# without LD_LIBRARY_PATH) and the Lua module where lua5.4 looks for it.
install: install-embed
install-embed: $(LIB_A) $(LIB_SO) $(LUA_MODULE)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LUA_CMODDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/lib$(LIBNAME).a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/$(LIB_REAL)
	ln -sf $(LIB_REAL) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/lib$(LIBNAME).so
	install -m 644 lua/runctl.h $(DESTDIR)$(INCLUDEDIR)/runctl.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@CMODDIR@|$(LUA_CMODDIR)|' -e 's|@VERSION@|$(RC_VERSION)|' \
	  -e 's|@RPATH@|$(if $(filter $(LIBDIR),$(SYSTEM_LIBDIRS)),,-Wl,-rpath,$${libdir})|' runctl.pc.in \
	  $(PC_EDIT) > $(DESTDIR)$(LIBDIR)/pkgconfig/$(LIBNAME).pc
	install -m 755 $(LUA_MODULE) $(DESTDIR)$(LUA_CMODDIR)/runctl.so

# ---- benchmark (bench/run.sh): runctl vs curl and wrk, measured in one run ----
.PHONY: bench
bench: deps
	@EXTRA_DEPS="hyperfine wrk valgrind nginx" sh tools/deps.sh >/dev/null
	@$(MAKE) --no-print-directory all $(BUILD)/delay-relay
	@$(MAKE) --no-print-directory LUA=luajit
	@sh bench/run.sh

$(BUILD)/delay-relay: bench/delay-relay.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -Wall -Wextra $(CFLAGS) $< -o $@

# ---- conformance (tests/conformance/): every binding through Stoplight Prism serving
# the official OpenAPI spec (../shared/openapi.yaml or $OPENAPI_SPEC); npm ci installs the
# pinned Prism on first use; says "skipped: <reason>" without Node/npm or the spec ----
.PHONY: conformance
conformance: deps
	@$(MAKE) --no-print-directory all
	@RUNCTL=./$(BIN) sh tests/conformance/run.sh --summary

# ---- packaging (issue 16): install/uninstall, man pages, completion, .deb, LuaRocks ----
# One version: RUNCTL_VERSION in lua/runctl.h (binary, soname, runctl.pc, .deb,
# rockspec; tests/package.lua checks the rockspec's name and CHANGELOG.md).
MANDIR       ?= $(PREFIX)/share/man
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR   ?= $(PREFIX)/share/zsh/vendor-completions
MULTIARCH    := $(shell $(CC) -print-multiarch 2>/dev/null)
# Folders the dynamic linker searches by itself: no rpath, and ldconfig after install.
SYSTEM_LIBDIRS = /lib /usr/lib /usr/local/lib $(if $(MULTIARCH),/lib/$(MULTIARCH) /usr/lib/$(MULTIARCH) /usr/local/lib/$(MULTIARCH))
SCRIPT_NAMES  = $(sort $(basename $(notdir $(wildcard scripts/*.lua))))
MAN_PAGES     = runctl.1 $(SCRIPT_NAMES:%=runctl-%.1)
RUN_BIN       = $(if $(filter /%,$(BIN)),$(BIN),./$(BIN))
# The date of this version's entry in CHANGELOG.md ("## 0.1.0 - 2026-11-27").
RC_DATE       = $(shell sed -n 's/^\#\# $(RC_VERSION) - \([0-9-]*\).*/\1/p' CHANGELOG.md)

# Every file `make install` writes (uninstall removes exactly these).
INSTALLED = $(PREFIX)/bin/runctl $(SCRIPT_NAMES:%=$(PREFIX)/share/runctl/scripts/%.lua) \
            $(MAN_PAGES:%=$(MANDIR)/man1/%) $(BASHCOMPDIR)/runctl $(ZSHCOMPDIR)/_runctl \
            $(LIBDIR)/librunctl.a $(LIBDIR)/$(LIB_REAL) $(LIBDIR)/$(LIB_SONAME) $(LIBDIR)/librunctl.so \
            $(INCLUDEDIR)/runctl.h $(LIBDIR)/pkgconfig/runctl.pc $(LUA_CMODDIR)/runctl.so \
            $(SHARE_FILES:%=$(PREFIX)/share/runctl/%) $(PREFIX)/share/runctl/types/runctl.lua
# What supervise ships beside the scripts (share/runctl/): its systemd unit,
# made from the .in with this PREFIX's paths, and an example policy.
SHARE_FILES   = runctl-supervise.service supervise-policy.example.lua budget-policy.example.lua

.PHONY: man install-bin install-doc deb rock rock-install

# types/runctl.lua (LuaLS definitions): its bindings part, from the resources and kinds.
.PHONY: types
types: $(BIN)
	$(RUN_BIN) tools/types.lua types/runctl.lua

# Man pages from `runctl --help`, `runctl help NAME` and packaging/man.txt.
man: $(BUILD)/man/runctl.1
$(BUILD)/man/runctl.1: $(BIN) packaging/man.lua packaging/man.txt $(wildcard scripts/*.lua) CHANGELOG.md
	@mkdir -p $(BUILD)/man
	RUNCTL_SCRIPTS=$(CURDIR)/scripts $(RUN_BIN) packaging/man.lua $(RUN_BIN) packaging/man.txt $(BUILD)/man \
	  $(RC_VERSION) "$(RC_DATE)" $(SCRIPT_NAMES)

# LUA=luajit installs the library and the module alone (the command is Lua 5.4's).
ifneq ($(LUA),luajit)
install: install-bin install-doc
endif
	@if [ -z "$(DESTDIR)" ] && [ -n "$(filter $(LIBDIR),$(SYSTEM_LIBDIRS))" ]; then \
	  ldconfig 2>/dev/null || echo "make install: run ldconfig as root so that hosts find $(LIB_SONAME)"; fi
install-bin: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/runctl/scripts
	install -d $(DESTDIR)$(PREFIX)/share/runctl/ext   # system extensions (docs/extending.md)
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/runctl
	install -m 644 $(SCRIPT_NAMES:%=scripts/%.lua) $(DESTDIR)$(PREFIX)/share/runctl/scripts/
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@DATADIR@|$(PREFIX)/share/runctl|g' \
	  share/runctl/runctl-supervise.service.in > $(DESTDIR)$(PREFIX)/share/runctl/runctl-supervise.service
	install -m 644 share/runctl/supervise-policy.example.lua share/runctl/budget-policy.example.lua $(DESTDIR)$(PREFIX)/share/runctl/
	install -d $(DESTDIR)$(PREFIX)/share/runctl/types   # LuaLS definitions (docs/scripting.md: Editors)
	install -m 644 types/runctl.lua $(DESTDIR)$(PREFIX)/share/runctl/types/
install-doc: man
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 644 $(MAN_PAGES:%=$(BUILD)/man/%) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 packaging/runctl.bash $(DESTDIR)$(BASHCOMPDIR)/runctl
	install -m 644 packaging/_runctl $(DESTDIR)$(ZSHCOMPDIR)/_runctl

# Removes what install wrote, and runctl's own folders once empty; the
# shared folders (bin, lib, share/man/man1, ...) stay.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(PREFIX)/share/runctl/scripts $(DESTDIR)$(PREFIX)/share/runctl/ext \
	  $(DESTDIR)$(PREFIX)/share/runctl/types \
	  $(DESTDIR)$(PREFIX)/share/runctl 2>/dev/null

# runctl_VERSION_ARCH.deb (into DEB_OUT): a build for /usr staged under
# DEB_BUILD/root, then packaging/deb.sh (control file, Depends, dpkg-deb).
DEB_BUILD ?= build/deb
DEB_OUT   ?= .
DEB_ARCH   = $(shell dpkg --print-architecture)
deb:
	rm -rf $(DEB_BUILD)/root
	$(MAKE) --no-print-directory BUILD=$(DEB_BUILD) PREFIX=/usr LIBDIR=/usr/lib/$(MULTIARCH) \
	  DESTDIR=$(abspath $(DEB_BUILD))/root install
	sh packaging/deb.sh $(DEB_BUILD)/root $(RC_VERSION) $(DEB_ARCH) $(DEB_OUT)/runctl_$(RC_VERSION)_$(DEB_ARCH).deb

# LuaRocks (runctl-VERSION-1.rockspec, build type make): the module alone,
# against the Lua and libcurl that luarocks found. lua-cjson.h only declares
# luaopen_cjson, which the module does not call (it requires "cjson"), so a
# stand-in serves where the rock's lua-cjson brings no header.
# Alone (`make rock`, no LuaRocks), the folders come from pkg-config.
ROCK_BUILD ?= build/rock
LUA_INCDIR  ?= $(patsubst -I%,%,$(filter -I%,$(shell pkg-config --cflags lua5.4)))
CURL_INCDIR ?= $(shell pkg-config --variable=includedir libcurl)
CURL_LIBDIR ?= $(shell pkg-config --variable=libdir libcurl)
# A Lua 5.1 (LuaJIT) also needs lua-compat53's header (Debian: lua-compat53-dev).
COMPAT53_CFLAGS ?= $(shell pkg-config --cflags-only-I lua5.1-compat53-string 2>/dev/null)
# The objects are built anew when the flags change (another Lua's headers:
# `luarocks make` for 5.4, then `luarocks --lua-version 5.1 make`), never
# reused across Lua versions.
ROCK_CFLAGS = $(CFLAGS) -I$(LUA_INCDIR) -I$(CURL_INCDIR) $(COMPAT53_CFLAGS) -L$(CURL_LIBDIR)
rock:
	@mkdir -p $(ROCK_BUILD)/include
	@echo 'int luaopen_cjson(struct lua_State *L);' > $(ROCK_BUILD)/include/lua-cjson.h
	@if [ "$$(cat $(ROCK_BUILD)/flags 2>/dev/null)" != '$(ROCK_CFLAGS)' ]; then \
	  rm -f $(ROCK_BUILD)/*.o $(ROCK_BUILD)/core/*.o $(ROCK_BUILD)/lua/*.o $(ROCK_BUILD)/module/*.o \
	    $(ROCK_BUILD)/module/runctl.so; \
	  echo '$(ROCK_CFLAGS)' > $(ROCK_BUILD)/flags; fi
	$(MAKE) --no-print-directory BUILD=$(ROCK_BUILD) CFLAGS="$(CFLAGS)" EMBED_LUA= \
	  PKG_CFLAGS="-I$(LUA_INCDIR) -I$(CURL_INCDIR) -I$(ROCK_BUILD)/include $(COMPAT53_CFLAGS)" \
	  CURL_LIBS="-L$(CURL_LIBDIR) -lcurl" $(ROCK_BUILD)/module/runctl.so
rock-install:
	install -d $(INST_LIBDIR)
	install -m 755 $(ROCK_BUILD)/module/runctl.so $(INST_LIBDIR)/runctl.so
