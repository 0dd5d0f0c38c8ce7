#!/usr/bin/env bash
# Installs the Debian packages that building the installers (nsis, mingw-w64) and testing them under
# Wine (wine, wine64) need, when they are missing. Run as root, or with sudo available.
#   installer/tools.sh build   makensis and the mingw-w64 C compiler
#   installer/tools.sh test    the above plus Wine
set -euo pipefail

want_build=(nsis g++-mingw-w64-x86-64 libz-mingw-w64-dev)
want_test=(wine wine64 libwine)

case "${1:-build}" in
  build) wanted=("${want_build[@]}") ;;
  test)  wanted=("${want_build[@]}" "${want_test[@]}") ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
