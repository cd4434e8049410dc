# Makefile — builds ./runctl, the fake API server and the tests with pkg-config;
# targets: all deps check demo bench install clean (and check-asan, check-valgrind).
PREFIX  ?= /usr/local
BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS     = lua5.4 libcurl lua5.4-cjson
FAKE_PKGS = libmicrohttpd jansson

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fPIC $(CFLAGS) \
             $(shell pkg-config --cflags $(PKGS)) -DRUNCTL_DATADIR='"$(PREFIX)/share/runctl"'
LIBS     = $(shell pkg-config --libs $(PKGS)) -lm
FAKE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra $(CFLAGS) $(shell pkg-config --cflags $(FAKE_PKGS))
FAKE_LIBS = $(shell pkg-config --libs $(FAKE_PKGS)) -lpthread

CORE_OBJ = $(BUILD)/core/engine.o $(BUILD)/core/url.o $(BUILD)/core/wire.o
LUA_OBJ  = $(BUILD)/lua/host.o $(BUILD)/lua/l_core.o $(BUILD)/lua/l_task.o \
           $(BUILD)/lua/l_json.o $(BUILD)/embedded.o
LIB_LUA  = $(wildcard lua/lib/*.lua)
HEADERS  = $(wildcard core/*.h lua/*.h)

BIN      = $(if $(filter build,$(BUILD)),runctl,$(BUILD)/runctl)
FAKEAPI  = $(BUILD)/fakeapi
UNIT     = $(BUILD)/test_core

.PHONY: all deps check check-asan check-valgrind demo bench install clean tools

all: $(BIN) $(FAKEAPI) $(UNIT)

deps:
	@sh tools/deps.sh

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/embed: tools/embed.c
	@mkdir -p $(BUILD)
	$(CC) -O1 -Wall -Wextra $< -o $@

$(BUILD)/embedded.c: $(BUILD)/embed $(LIB_LUA)
	$(BUILD)/embed $(LIB_LUA) > $@

$(BUILD)/embedded.o: $(BUILD)/embedded.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BIN): $(BUILD)/lua/main.o $(LUA_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LIBS)

$(FAKEAPI): $(wildcard tests/fakeapi/*.c tests/fakeapi/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(FAKE_CFLAGS) $(filter %.c,$^) -o $@ $(FAKE_LIBS)

$(UNIT): tests/unit/test_core.c $(CORE_OBJ)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS)

check: deps
	@$(MAKE) --no-print-directory all
	@RUNCTL=./$(BIN) FAKEAPI=$(FAKEAPI) UNIT=$(UNIT) sh tests/run.sh

SAN = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(SAN)" all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  RUNCTL=build-asan/runctl FAKEAPI=build-asan/fakeapi UNIT=build-asan/test_core sh tests/run.sh

check-valgrind: deps
	@$(MAKE) --no-print-directory all
	@RUNCTL_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
	  RUNCTL=./$(BIN) FAKEAPI=$(FAKEAPI) UNIT=$(UNIT) sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/demo.sh ./$(BIN) $(FAKEAPI)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/runctl/scripts
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/runctl
	install -m 644 scripts/*.lua $(DESTDIR)$(PREFIX)/share/runctl/scripts/

clean:
	rm -rf build build-asan runctl

# ---- reliability test tools (tests/tools) ----
BADPEER = $(BUILD)/badpeer
all: $(BADPEER)
$(BADPEER): tests/tools/badpeer.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -Wall -Wextra $(CFLAGS) $< -o $@
