#!/bin/sh
# tools/deps.sh — installs the Debian packages runctl needs, only those missing.
set -e
want="pkg-config make gcc clang libclang-rt-14-dev curl openssl liblua5.4-dev libcurl4-openssl-dev lua-cjson-dev libmicrohttpd-dev libjansson-dev lua5.4 lua-check luarocks groff-base nginx jq zsh luajit libluajit-5.1-dev lua-compat53-dev love neovim xvfb xauth $EXTRA_DEPS"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
else
    echo "deps: all present"
fi
