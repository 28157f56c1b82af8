#!/usr/bin/env bash
# setup.sh: builds and fetches what the harness needs into the build dir (HARNESS_BUILD, default
# build/harness): tsfwd (cc), Debian's python3-tornado, tcpdump and tshark (apt-get, only if
# missing), the real BokehJS bundles (npm pack @bokeh/bokehjs@3.6.0; optional), and with
# --chromium also Debian's chromium and playwright-core (npm; optional).
#   setup.sh [--tsfwd] [--deps] [--bokehjs] [--chromium]   (no option: --tsfwd --deps --bokehjs)
# Exit 0 when what was asked for is there (the optional parts only warn).
# OW_HARNESS_NO_INSTALL=1: install nothing (apt, npm); only build tsfwd and report what is missing.
set -u
. "$(dirname "$0")/lib.sh"

want_tsfwd=0 want_deps=0 want_bokehjs=0 want_chromium=0
[ $# -eq 0 ] && want_tsfwd=1 want_deps=1 want_bokehjs=1
for a in "$@"; do
    case $a in
    --tsfwd) want_tsfwd=1 ;;
    --deps) want_deps=1 ;;
    --bokehjs) want_bokehjs=1 ;;
    --chromium) want_chromium=1 ;;
    -h | --help)
        sed -n '2,9p' "$0"
        exit 0
        ;;
    *) h_die "unknown option $a" ;;
    esac
done
mkdir -p "$HARNESS_BUILD" || h_die "cannot create $HARNESS_BUILD"

apt_updated=0
apt_install() { # apt_install PKG...: installs the missing ones (root only)
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -n "${OW_HARNESS_NO_INSTALL:-}" ]; then
        h_log "missing ${missing[*]} (OW_HARNESS_NO_INSTALL is set: not installing)"
        return 1
    fi
    [ "$(id -u)" -eq 0 ] || {
        h_log "not root: cannot install ${missing[*]}"
        return 1
    }
    if [ $apt_updated -eq 0 ]; then
        timeout 300 apt-get update -qq >&2 || true
        apt_updated=1
    fi
    h_log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >&2
}

build_tsfwd() {
    local src=$HARNESS_SRC/tsfwd.c
    if [ -x "$TSFWD_BIN" ] && [ "$TSFWD_BIN" -nt "$src" ]; then return 0; fi
    h_log "building $TSFWD_BIN"
    ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$TSFWD_BIN.$$.tmp" "$src" &&
        mv -f "$TSFWD_BIN.$$.tmp" "$TSFWD_BIN"
}

fetch_bokehjs() { # real BokehJS bundles, byte-identical to what bokeh 3.6.0 serves
    [ -f "$BOKEHJS_DIR/VERSION" ] && return 0
    [ -z "${OW_HARNESS_NO_INSTALL:-}" ] && command -v npm >/dev/null || {
        h_log "npm missing: the server will synthesize bundles of the real sizes"
        return 1
    }
    local tmp
    tmp=$(mktemp -d "$HARNESS_BUILD/npm.XXXXXX") || return 1
    h_log "npm pack @bokeh/bokehjs@$BOKEHJS_VERSION"
    if (cd "$tmp" && timeout 300 npm pack --silent "@bokeh/bokehjs@$BOKEHJS_VERSION" >/dev/null 2>&1) &&
        tar -xzf "$tmp"/bokeh-bokehjs-*.tgz -C "$tmp" package/build/js/bokeh.min.js \
            package/build/js/bokeh-gl.min.js package/build/js/bokeh-widgets.min.js \
            package/build/js/bokeh-tables.min.js package/build/js/bokeh-mathjax.min.js; then
        mkdir -p "$tmp/out/js"
        mv "$tmp"/package/build/js/*.min.js "$tmp/out/js/"
        touch "$tmp"/out/js/*.min.js # npm pack stamps 1985; Last-Modified should look installed
        echo "$BOKEHJS_VERSION" >"$tmp/out/VERSION"
        rm -rf "$BOKEHJS_DIR" # a partial one (no VERSION); a parallel run may win the mv
        mv -T "$tmp/out" "$BOKEHJS_DIR" 2>/dev/null
        rm -rf "$tmp"
        [ -f "$BOKEHJS_DIR/VERSION" ]
        return
    fi
    rm -rf "$tmp"
    h_log "could not fetch @bokeh/bokehjs: the server will synthesize bundles of the real sizes"
    return 1
}

setup_chromium() {
    apt_install chromium || h_log "chromium not installable"
    command -v chromium >/dev/null || return 1
    local nm=$HARNESS_BUILD/node
    if [ ! -d "$nm/node_modules/playwright-core" ] && [ -z "${OW_HARNESS_NO_INSTALL:-}" ]; then
        mkdir -p "$nm"
        [ -f "$nm/package.json" ] || echo '{"private": true}' >"$nm/package.json"
        h_log "npm install playwright-core"
        (cd "$nm" && timeout 600 npm install --silent --no-audit --no-fund playwright-core >&2) ||
            h_log "playwright-core not installable (chromium --dump-dom still works)"
    fi
    return 0
}

rc=0
if [ $want_deps -eq 1 ]; then
    "$HARNESS_PY" -c 'import tornado' 2>/dev/null || apt_install python3-tornado || rc=1
    command -v tcpdump >/dev/null || apt_install tcpdump || rc=1
    command -v tshark >/dev/null || apt_install tshark || rc=1
    command -v curl >/dev/null || apt_install curl || rc=1
fi
[ $want_tsfwd -eq 1 ] && { build_tsfwd || rc=1; }
[ $want_bokehjs -eq 1 ] && { fetch_bokehjs || true; }
[ $want_chromium -eq 1 ] && { setup_chromium || true; }
echo "$HARNESS_BUILD"
exit $rc
