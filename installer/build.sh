#!/usr/bin/env bash
# `make installer`: builds, into build/installer/,
#   CSMultiConnector-<version>-setup.exe       Windows (NSIS, amd64): EA + sidecar wheels + Python bootstrap
#   CSMultiConnector-<version>-linux.tar.gz    Linux with Wine: install.sh + the sidecar wheel + the EA
#   CSMultiConnector-<version>-macos.tar.gz    macOS (MetaTrader 5 app, PlayOnMac, CrossOver bottles)
#   wheels-local/                              the sidecar's dependencies for this machine's Python, for
#                                              offline installs with `install.sh --wheels` (the tests use it)
# The tools come from installer/tools.sh; the wheels from the package index (pip download).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
# Windows CPython versions whose wheels the installer carries: an installed Python of one of these is used
# as it is; otherwise the pinned embeddable package below is fetched at install time.
WIN_PYTHONS=${WIN_PYTHONS:-"3.13 3.12 3.11 3.14"}
# Pinned: python.org's embeddable package for Windows amd64. Bump the three together, with the SHA-256
# published for that file on python.org (README, "Windows installer: maintainers").
PY_EMBED_VERSION=3.12.10
PY_EMBED_SHA256=4acbed6dd1c744b0376e3b1cf57ce906f9dc9e95e68824584c8099a63025a3c3

installer/tools.sh build

out=build/installer
stage=$out/stage
rm -rf "$stage" "$out"/CSMultiConnector-*
mkdir -p "$stage/wheels" "$out/wheels-local"
version=$("$PYTHON" -c 'import sidecar; print(sidecar.__version__)')
pip=("$PYTHON" -m pip --disable-pip-version-check -q)
started=$(date +%s)

echo "building the sidecar wheel ($version)"
"${pip[@]}" wheel --no-deps -w "$stage/wheels" .
wheel=$(ls "$stage"/wheels/csmulticonnector-"$version"-*.whl)

for v in $WIN_PYTHONS; do
  echo "downloading win_amd64 wheels for CPython $v"
  "${pip[@]}" download --only-binary=:all: --platform win_amd64 --implementation cp \
    --python-version "$v" -d "$stage/wheels" "$wheel" pip
done
pip_wheel=$(basename "$(ls "$stage"/wheels/pip-*-py3-none-any.whl | sort -V | tail -1)")
echo "downloading this machine's wheels for offline installs (wheels-local)"
"${pip[@]}" download -d "$out/wheels-local" "$wheel"

cp -r mql5 "$stage/mql5"
cp installer/profile-template.toml installer/windows/fetch-python.ps1 "$stage/"
: > "$stage/pythons.nsh"
for v in $WIN_PYTHONS; do echo "!insertmacro TryPython \"$v\"" >> "$stage/pythons.nsh"; done

echo "makensis"
makensis -V2 -WX \
  -DVERSION="$version" -DSTAGE="$PWD/$stage" -DOUTFILE="$PWD/$out/CSMultiConnector-$version-setup.exe" \
  -DPY_EMBED_VERSION="$PY_EMBED_VERSION" -DPY_EMBED_SHA256="$PY_EMBED_SHA256" \
  -DPY_EMBED_TAG="$(echo "$PY_EMBED_VERSION" | cut -d. -f1-2 | tr -d .)" -DPIP_WHEEL="$pip_wheel" \
  installer/windows/csmulticonnector.nsi

for platform in linux macos; do
  dir=$out/CSMultiConnector-$version-$platform
  mkdir -p "$dir/payload"
  cp installer/linux/install.sh "$dir/install.sh"
  if [ "$platform" = macos ]; then
    cp installer/macos/install-macos.sh "$dir/install-macos.sh"
    cp installer/macos/README.md "$dir/README-macos.md"
  fi
  cp "$wheel" installer/profile-template.toml "$dir/payload/"
  cp -r mql5 "$dir/payload/mql5"
  tar -C "$out" -czf "$dir.tar.gz" "$(basename "$dir")"
done

echo "built in $(( $(date +%s) - started )) s:"
ls -l "$out"/CSMultiConnector-*-setup.exe "$out"/CSMultiConnector-*.tar.gz
