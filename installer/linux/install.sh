#!/usr/bin/env bash
# CSMultiConnector for MetaTrader 5 under Wine (Linux; macOS through install-macos.sh).
#
# - The sidecar is installed natively: a Python virtual environment in the user's data directory, no
#   Windows Python in any Wine prefix.
# - The EA's sources go into every MT5 data folder of the Wine prefixes: $WINEPREFIX, ~/.wine, ~/.mt5
#   (the prefix MetaQuotes' own Linux script makes), and any --prefix given.
# - In each prefix, C:\windows\csmc.exe becomes a small Unix launcher of the Linux sidecar: Wine runs a
#   Unix program it finds on its PATH natively, so the EA's default Sidecar command "csmc" starts it.
#
# Running it again updates everything in place. --uninstall removes what it installed and keeps profiles,
# journal and logs (--purge removes those too).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: install.sh [options]
  --prefix DIR     a Wine prefix (bottle) MetaTrader 5 runs in; repeatable. Without it: $WINEPREFIX,
                   ~/.wine and ~/.mt5, those that exist
  --python PYTHON  the Python (3.11 or newer) for the sidecar's virtual environment
  --wheels DIR     install the sidecar offline, from the wheels in DIR only
  --uninstall      remove the sidecar, the launchers and the EA files this script installed
  --purge          with --uninstall: also remove profiles, journal and logs
  -h, --help       this text
EOF
}

say() { printf '%s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
payload=$here/payload
platform=${CSMC_PLATFORM:-$(uname -s)}
prefixes=()
python=""
wheels=""
uninstall=0
purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || fail "--prefix needs a folder"; prefixes+=("$2"); shift 2 ;;
    --python) [ $# -ge 2 ] || fail "--python needs a program"; python=$2; shift 2 ;;
    --wheels) [ $# -ge 2 ] || fail "--wheels needs a folder"; wheels=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail "unknown option $1" ;;
  esac
done

# The sidecar's own directories, as platformdirs gives them to it (sidecar/paths.py).
if [ "$platform" = Darwin ]; then
  data_dir="$HOME/Library/Application Support/CSMultiConnector"
  config_dir="$data_dir"
  log_dir="$HOME/Library/Logs/CSMultiConnector"
else
  data_dir="${XDG_DATA_HOME:-$HOME/.local/share}/CSMultiConnector"
  config_dir="${XDG_CONFIG_HOME:-$HOME/.config}/CSMultiConnector"
  log_dir="${XDG_STATE_HOME:-$HOME/.local/state}/CSMultiConnector/log"
fi
venv="$data_dir/sidecar"
manifest="$data_dir/installed.txt"   # "ea <data folder>" and "launcher <file>" lines, for updates and --uninstall

if [ ${#prefixes[@]} -eq 0 ]; then
  [ -n "${WINEPREFIX:-}" ] && prefixes+=("$WINEPREFIX")
  prefixes+=("$HOME/.wine" "$HOME/.mt5")
fi

# Every MT5 data folder in a prefix: <users>/<user>/AppData/Roaming/MetaQuotes/Terminal/<id> holding MQL5
# (older prefixes say "Application Data"), and portable terminals: a folder with terminal64.exe and MQL5.
data_folders() {
  local prefix=$1 dir
  for dir in "$prefix"/drive_c/users/*/AppData/Roaming/MetaQuotes/Terminal/* \
             "$prefix"/drive_c/users/*/"Application Data"/MetaQuotes/Terminal/* \
             "$prefix"/drive_c/"Program Files"*/*; do
    [ -d "$dir/MQL5" ] || continue
    case "$dir" in */Program\ Files*) [ -f "$dir/terminal64.exe" ] || continue ;; esac
    printf '%s\n' "$dir"
  done
}

# origin.txt names the terminal a data folder belongs to (UTF-16 text)
origin() {
  local file=$1/origin.txt
  [ -f "$file" ] || return 0
  if command -v iconv >/dev/null; then
    iconv -f UTF-16 -t UTF-8 "$file" 2>/dev/null | tr -d '\r\n' || true
  fi
}

manifest_add() {
  mkdir -p "$data_dir"
  touch "$manifest"
  grep -qxF "$1" "$manifest" || printf '%s\n' "$1" >> "$manifest"
}

remove_ea() {
  local folder=$1
  rm -f "$folder/MQL5/Experts/CSMultiConnector.mq5" "$folder/MQL5/Experts/CSMultiConnector.ex5"
  rm -f "$folder"/MQL5/Include/CSMultiConnector/*.mqh
  rmdir "$folder/MQL5/Include/CSMultiConnector" 2>/dev/null || true
}

if [ $uninstall -eq 1 ]; then
  if [ -f "$manifest" ]; then
    while IFS= read -r line; do
      case "$line" in
        "ea "*) remove_ea "${line#ea }"; say "EA removed from ${line#ea }" ;;
        "launcher "*) rm -f "${line#launcher }"; say "launcher removed: ${line#launcher }" ;;
      esac
    done < "$manifest"
  fi
  rm -rf "$venv" "$manifest"
  if [ -L "$HOME/.local/bin/csmc" ] && [ "$(readlink "$HOME/.local/bin/csmc")" = "$venv/bin/csmc" ]; then
    rm -f "$HOME/.local/bin/csmc"
  fi
  if [ $purge -eq 1 ]; then
    rm -rf "$data_dir" "$config_dir" "$log_dir"
    say "Removed, with profiles, journal and logs."
  else
    rmdir "$data_dir" 2>/dev/null || true
    say "Removed. Kept: profiles in $config_dir/profiles, journal in $data_dir, logs in $log_dir."
  fi
  exit 0
fi

[ -d "$payload/mql5" ] && ls "$payload"/csmulticonnector-*.whl >/dev/null 2>&1 ||
  fail "no payload next to this script ($payload): use the install.sh of a release archive, or build one with 'make installer'"

# --- the sidecar ------------------------------------------------------------------------------------------

python_ok() {
  "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}
if [ -n "$python" ]; then
  python_ok "$python" || fail "$python is not a Python 3.11 or newer with the venv module"
else
  for candidate in python3.14 python3.13 python3.12 python3.11 python3 \
                   /opt/homebrew/bin/python3 /usr/local/bin/python3; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then python=$candidate; break; fi
  done
  [ -n "$python" ] || fail "no Python 3.11 or newer with its venv module was found. Install one (Debian/Ubuntu: \
sudo apt install python3 python3-venv; macOS: brew install python@3.12), or name it with --python"
fi

say "Installing the sidecar into $venv (Python: $(command -v "$python" || echo "$python"))"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c '' 2>/dev/null; then
  rm -rf "$venv"
  "$python" -m venv "$venv" || fail "$python could not create a virtual environment in $venv (Debian/Ubuntu: sudo apt install python3-venv)"
fi
pip_args=(--disable-pip-version-check --quiet --upgrade --find-links "$payload")
[ -n "$wheels" ] && pip_args+=(--no-index --find-links "$wheels")
"$venv/bin/python" -m pip install "${pip_args[@]}" "$payload"/csmulticonnector-*.whl ||
  fail "pip could not install the sidecar into $venv (see its message above)"
installed=$("$venv/bin/csmc" version) || fail "the installed sidecar does not start: $venv/bin/csmc version failed"
say "  $installed"
if [ "$platform" != Darwin ] && mkdir -p "$HOME/.local/bin" 2>/dev/null; then
  ln -sfn "$venv/bin/csmc" "$HOME/.local/bin/csmc"   # for a terminal: ~/.local/bin is on most distributions' PATH
fi

profile="$config_dir/profiles/default.toml"
if [ -f "$profile" ]; then
  say "Profile kept: $profile"
else
  mkdir -p "$config_dir/profiles"
  (umask 077 && cp "$payload/profile-template.toml" "$profile")
  chmod 600 "$profile"
  say "Profile created (readable by you only): $profile"
fi

# --- the EA and the launcher in each prefix --------------------------------------------------------------

found=0
checked=()
for prefix in "${prefixes[@]}"; do
  prefix=${prefix%/}
  checked+=("$prefix")
  [ -d "$prefix/drive_c" ] || continue
  folders=$(data_folders "$prefix")
  [ -n "$folders" ] || continue
  while IFS= read -r folder; do
    mkdir -p "$folder/MQL5/Experts" "$folder/MQL5/Include/CSMultiConnector"
    cp "$payload/mql5/Experts/CSMultiConnector.mq5" "$folder/MQL5/Experts/"
    cp "$payload"/mql5/Include/CSMultiConnector/*.mqh "$folder/MQL5/Include/CSMultiConnector/"
    manifest_add "ea $folder"
    name=$(origin "$folder")
    say "EA installed: $folder${name:+  (terminal: $name)}"
    found=$((found + 1))
  done <<< "$folders"
  launcher="$prefix/drive_c/windows/csmc.exe"
  mkdir -p "$prefix/drive_c/windows"
  quoted_prefix=$(printf '%q' "$prefix")
  quoted_csmc=$(printf '%q' "$venv/bin/csmc")
  quoted_log=$(printf '%q' "$log_dir")
  cat > "$launcher" <<EOF
#!/bin/sh
# CSMultiConnector: the Linux/macOS sidecar for the EA in this Wine prefix. Wine runs this Unix script when
# the EA starts "csmc"; the sidecar reads the EA's Windows paths through this prefix. Written by install.sh.
# Its output goes to launcher.log beside its other logs: the terminal's own output may be gone by then.
CSMC_WINEPREFIX=$quoted_prefix
export CSMC_WINEPREFIX
mkdir -p $quoted_log
exec $quoted_csmc "\$@" </dev/null >>$quoted_log/launcher.log 2>&1
EOF
  chmod 755 "$launcher"
  manifest_add "launcher $launcher"
  say "Launcher for the EA's Sidecar command \"csmc\": $launcher"
done

if [ $found -eq 0 ]; then
  say ""
  say "No MetaTrader 5 data folder was found in: ${checked[*]}."
  say "The sidecar is installed, the EA is not. Start MetaTrader 5 once in its Wine prefix (that creates its"
  say "data folder), then run this script again; for a prefix elsewhere: install.sh --prefix /path/to/prefix"
  exit 3
fi

cat <<EOF

Done: the EA in $found data folder(s), the sidecar in $venv.
In MetaTrader 5, two settings are needed (Tools > Options > Expert Advisors):
  1. tick "Allow DLL imports": the EA starts the sidecar with it;
  2. add 127.0.0.1 to "Allow WebRequest for listed URL": the EA talks to the sidecar there.
Then open CSMultiConnector.mq5 in MetaEditor and press Compile (F7), and attach the EA to one chart.
Venue keys go into $profile.
EOF
