#!/bin/sh
# packaging/deb.sh — turns a tree staged by `make install DESTDIR=ROOT PREFIX=/usr`
# into runctl_VERSION_ARCH.deb: Debian's layout (stripped, man pages gzipped,
# the changelog), the control file (Depends from the shared libraries the
# binaries link, via dpkg-shlibdeps, else ldd + dpkg -S), an ldconfig trigger,
# md5sums, then dpkg-deb. Called by `make deb`, from the repository root.
#   sh packaging/deb.sh ROOT VERSION ARCH OUT.deb
set -e
root=$1 version=$2 arch=$3 out=$4
[ -n "$out" ] || { echo "usage: packaging/deb.sh ROOT VERSION ARCH OUT.deb" >&2; exit 2; }
elves=$(find "$root" -type f \( -perm -u+x -o -name '*.so*' \) ! -name '*.lua' | sort)

# Depends from dpkg-shlibdeps, which wants to run beside a debian/control.
shlibdeps() {
    work=$(mktemp -d)
    mkdir "$work/debian"
    printf 'Source: runctl\n\nPackage: runctl\nArchitecture: any\n' > "$work/debian/control"
    abs=""
    for f in $elves; do abs="$abs $(cd "$(dirname "$f")" && pwd)/$(basename "$f")"; done
    # -l: librunctl is ours, found in the staged tree, not from another package.
    libdir=$(dirname "$(find "$root" -name 'librunctl.so.*.*' | head -1)")
    (cd "$work" && dpkg-shlibdeps -O -l"$(cd "$libdir" && pwd)" $abs 2>/dev/null) |
        sed -n 's/^shlibs:Depends=//p'
    rm -rf "$work"
}

# Fallback: the package owning each library a binary names (NEEDED), found
# where ldd resolves it, at its installed version.
lddeps() {
    resolved=$(mktemp)
    for f in $elves; do
        ldd "$f" > "$resolved" 2>/dev/null || continue
        readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v '^librunctl' |
        while read -r needed; do
            sed -n "s|^[[:space:]]*$needed => \\(/[^ ]*\\) .*|\\1|p" "$resolved"
        done
    done | sort -u |
    while read -r lib; do
        dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true
    done | sed 's/:.*//' | sort -u |
    while read -r pkg; do
        echo "$pkg (>= $(dpkg-query -W -f='${Version}' "$pkg"))"
    done | paste -sd, - | sed 's/,/, /g'
    rm -f "$resolved"
}

depends=""
command -v dpkg-shlibdeps >/dev/null 2>&1 && depends=$(shlibdeps)
[ -n "$depends" ] || depends=$(lddeps)
[ -n "$depends" ] || { echo "deb: could not work out Depends" >&2; exit 1; }

# Debian's layout: binaries stripped, man pages gzipped, the changelog in doc/.
for f in $elves; do strip --strip-unneeded "$f"; done
find "$root" -name '*.a' -exec strip --strip-debug {} +
gzip -9nf "$root"/usr/share/man/man1/*.1
mkdir -p "$root/usr/share/doc/runctl" "$root/DEBIAN"
gzip -9nc CHANGELOG.md > "$root/usr/share/doc/runctl/changelog.gz"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: runctl
Version: $version
Architecture: $arch
Maintainer: runctl maintainers <runctl@localhost>
Installed-Size: $size
Depends: $depends
Suggests: lua5.4
Section: utils
Priority: optional
Description: Lua-scriptable runtime for cancelling and supervising OpenAI jobs
 runctl runs Lua 5.4 scripts that cancel and supervise OpenAI runs, background
 responses, batches and fine-tuning jobs through one non-blocking HTTP engine,
 with bundled clean-up scripts (cancel-older-than, cancel, unblock-thread,
 watch), a supervisor whose budgets cancel what runs once the organization's
 spend passes a limit (supervise), and spend. Also ships librunctl with its header and pkg-config file for hosts
 that embed it, and the runctl module for the stock lua5.4.
EOF
# librunctl lands in the linker's folders: refresh its cache on install/remove.
echo "activate-noawait ldconfig" > "$root/DEBIAN/triggers"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
    xargs md5sum > DEBIAN/md5sums)
dpkg-deb --root-owner-group -Zgzip --build "$root" "$out" >/dev/null
echo "deb: $out"
