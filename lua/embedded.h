/* lua/embedded.h — the Lua half of the API as the build embeds it (tools/embed.c
 * writes BUILD/embedded.c): each lua/lib module's source and, when the build
 * could compile it, its bytecode for the Lua named by rc_embedded_lua_ident. */
#ifndef RC_EMBEDDED_H
#define RC_EMBEDDED_H

#include <stddef.h>

struct rc_embedded_file {
    const char *name;           /* "api.client" for lua/lib/api/client.lua, "ops" for ops/init.lua */
    const char *chunkname;      /* "@[runctl]/api/client.lua": what tracebacks show */
    const char *source;
    size_t len;
    const char *bytecode;       /* NULL when built without (make rock) */
    size_t bytecode_len;
};

/* Ends with a NULL name. */
extern const struct rc_embedded_file rc_embedded[];
/* lua_ident of the Lua that compiled the bytecode ("" when there is none). */
extern const char rc_embedded_lua_ident[];

#endif
