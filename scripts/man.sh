#!/usr/bin/env bash
# Regenerates man/ from the command definitions. The date is that of the last change to the
# command-line sources, so the pages only change when the commands do.
set -euo pipefail
cd "$(dirname "$0")/.."
date=$(git log -1 --format=%cs -- Sources/lorakit 2>/dev/null || true)
[ -n "$date" ] || date=$(date +%F)
swift package plugin --allow-writing-to-package-directory generate-manual --multi-page --date "$date" \
    --authors "lorakit developers" >/dev/null
out=.build/plugins/GenerateManual/outputs/lorakit
[ -d "$out" ] || { echo "man: the plugin wrote nothing to $out" >&2; exit 1; }
mkdir -p man
rm -f man/*.1
# lorakit.resize.1 -> lorakit-resize.1, the usual name of a subcommand's page; the `help`
# pseudo-command gets none.
for page in "$out"/*.1; do
    name=$(basename "$page" .1)
    [ "$name" = "lorakit.help" ] && continue
    cp "$page" "man/${name//./-}.1"
done
ls man
