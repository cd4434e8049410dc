# packaging/luajit.mk — what `make LUA=luajit` changes (included by the Makefile):
# LuaJIT 2.1's headers and lua5.1-cjson, the Lua 5.1 API shims (lua/compat51.*),
# the library named runctl-luajit (librunctl-luajit.so, runctl-luajit.pc) and
# the module installed for Lua 5.1. Its default goal builds the library, the
# module and the C hosts linked with LuaJIT; the runctl command stays Lua 5.4.
PKGS        = luajit libcurl lua5.1-cjson
# lua5.1-cjson's pkg-config names PUC Lua 5.1 too: one Lua per process, LuaJIT.
LIBS        = $(filter-out -llua5.1,$(shell pkg-config --libs $(PKGS))) -lm
LIBNAME     = runctl-luajit
LUA_ABI     = 5.1
# tools/embed.c writes Lua 5.4 bytecode: the LuaJIT build embeds the source.
EMBED_LUA   =
EMBED_LIBS  = $(filter-out -llua5.1 -lluajit-5.1,$(shell pkg-config --libs libcurl lua5.1-cjson)) -lm
PC_EDIT     = | sed -e 's/^Name: runctl/Name: runctl-luajit/' -e 's/^Requires: lua5.4/Requires: luajit/' \
                    -e 's/lua5.4-cjson/lua5.1-cjson/' -e 's/-lrunctl /-lrunctl-luajit /' \
                    -e 's/^Description: /Description: (LuaJIT 2.1 build) /'

# The example hosts and tests/embed are written for the 5.4 API: built for
# LuaJIT through the same shims (a LuaJIT host of your own needs none of it).
HOST_CFLAGS = -include lua/compat51.h

.DEFAULT_GOAL := luajit-all
.PHONY: luajit-all
luajit-all: $(BUILD)/librunctl-luajit.a $(BUILD)/librunctl-luajit.so $(BUILD)/module/runctl.so \
            $(BUILD)/frame-loop $(BUILD)/sandbox-host $(BUILD)/minimal-host $(BUILD)/test_embed
