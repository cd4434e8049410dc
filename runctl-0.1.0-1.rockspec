-- runctl-0.1.0-1.rockspec — LuaRocks: builds the runctl C module (require "runctl")
-- for the Lua LuaRocks gives it, 5.1 (LuaJIT) to 5.4, with the Makefile (`make
-- rock`, then `make rock-install`) against the system's libcurl and the
-- lua-cjson rock. From a checkout: `luarocks make`; for LuaJIT:
-- `luarocks --lua-version 5.1 make LUA_INCDIR=/usr/include/luajit-2.1` (a Lua
-- 5.1 build also needs lua-compat53's C header: Debian's lua-compat53-dev).
-- The version is RUNCTL_VERSION in lua/runctl.h (tests/package.lua checks both).
rockspec_format = "3.0"
package = "runctl"
version = "0.1.0-1"
source = {
  url = "git+file://.",  -- no public repository yet: build from a checkout with luarocks make
}
description = {
  summary = "Non-blocking bindings for cancelling and supervising OpenAI jobs",
  detailed = [[
runs.cancel, batches.cancel, responses.cancel, fine_tuning.jobs.cancel and
friends for Lua 5.4 and LuaJIT (LÖVE, Neovim, OpenResty), on one libcurl multi handle:
calls block outside a task and overlap inside runctl.task.spawn.]],
  labels = { "openai", "http", "curl" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson",
}
external_dependencies = {
  -- the library only: Debian keeps curl/curl.h under include/MULTIARCH, where
  -- the compiler looks by itself but luarocks does not.
  CURL = { library = "curl" },
}
build = {
  type = "make",
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    CURL_INCDIR = "$(CURL_INCDIR)",
    CURL_LIBDIR = "$(CURL_LIBDIR)",
  },
  install_target = "rock-install",
  -- the LuaLS definitions (types/runctl.lua) go to the rock's folder:
  -- $(luarocks show --rock-dir runctl)/types, for an editor's workspace.library
  copy_directories = { "types" },
  install_variables = {
    INST_LIBDIR = "$(LIBDIR)",
  },
}
