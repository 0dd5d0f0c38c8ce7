#!/usr/bin/env bash
# CSMultiConnector for MetaTrader 5 on macOS: finds the Wine bottles MetaTrader 5 lives in and runs
# install.sh (beside this script) for them. The sidecar is installed natively (Homebrew's or another
# Python 3.11+), the EA into every MT5 data folder of each bottle. Options are passed on to install.sh.
#   the MetaTrader 5 app    ~/Library/Application Support/net.metaquotes.wine.metatrader5
#   PlayOnMac               ~/Library/PlayOnMac/wineprefix/<virtual drive>
#   CrossOver               ~/Library/Application Support/CrossOver/Bottles/<bottle>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
support="$HOME/Library/Application Support"

args=()
for bottle in "$support/net.metaquotes.wine.metatrader5" \
              "$HOME/Library/PlayOnMac/wineprefix"/* \
              "$support/CrossOver/Bottles"/*; do
  [ -d "$bottle/drive_c" ] && args+=(--prefix "$bottle")
done
if [ ${#args[@]} -eq 0 ] && [[ " $* " != *" --prefix "* ]] && [[ " $* " != *" --uninstall "* ]]; then
  cat >&2 <<TEXT
install-macos.sh: no Wine bottle was found in
  $support/net.metaquotes.wine.metatrader5 (the MetaTrader 5 app),
  $HOME/Library/PlayOnMac/wineprefix/ (PlayOnMac) or $support/CrossOver/Bottles/ (CrossOver).
Install MetaTrader 5 and start it once (README-macos.md), then run this script again,
or name the bottle: install-macos.sh --prefix /path/to/bottle
TEXT
  exit 3
fi
CSMC_PLATFORM=Darwin exec "$here/install.sh" ${args[@]+"${args[@]}"} "$@"
