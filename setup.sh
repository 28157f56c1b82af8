#!/usr/bin/env bash
# setup.sh: everything needed to build and test orphanwatch on Debian 12, then the build.
# As root it installs missing Debian packages with apt-get; otherwise it names them exactly.
#   ./setup.sh            install (if root) + configure + build into build/
#   OW_BUILD_DIR=dir OW_CMAKE_ARGS="-DOW_SANITIZE=ON" ./setup.sh   another build
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake pkg-config clang libclang-rt-14-dev
          libpcap-dev libnids-dev libglib2.0-dev libnet1-dev libsqlite3-dev sqlite3
          libncurses-dev zlib1g-dev
          tshark tcpdump tmux python3 python3-tornado iproute2 curl time valgrind openssl
          clang-format clang-tidy cppcheck)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

build=${OW_BUILD_DIR:-build}
captures=${ORPHANWATCH_CAPTURES:-$PWD/../shared/captures}
# shellcheck disable=SC2086
cmake -S . -B "$build" -DOW_CAPTURES_DIR="$captures" ${OW_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built $build/orphanwatch" >&2
