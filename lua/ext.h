/* lua/ext.h — extension files, the C half (ext.c): the runctl.extdir module,
 * which lua/open.c preloads. */
#ifndef RC_EXT_H
#define RC_EXT_H

#include <lua.h>

int luaopen_runctl_extdir(lua_State *L);

#endif
