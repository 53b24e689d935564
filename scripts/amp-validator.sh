#!/usr/bin/env bash
# The official AMP validator for tests/integration/test_amp_email.py; `make test` runs this after
# scripts/test-deps.sh (which installs Debian's nodejs and npm).
#
# Contract:
#   - Installs into .cache/node (git-ignored, inside the checkout): the `amphtml-validator` npm package
#     (the command line tool) and `validator_wasm.js`, the validator itself.  The tool downloads
#     validator_wasm.js from the AMP CDN each time it runs unless given `--validator_js FILE`; the
#     machines that run the tests reach the npm registry and nothing else, so the file is taken from
#     an npm package that vendors the official build (next's dist/compiled/amphtml-validator) and
#     the test passes it with --validator_js.  Both versions are pinned below.
#   - Already installed at these versions: exit 0, print nothing, touch nothing.
#   - No npm: one message on stderr naming the Debian packages (nodejs, npm); exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

VALIDATOR=amphtml-validator@1.0.38
WASM_FROM=next@15.5.4
WASM_PATH=package/dist/compiled/amphtml-validator/validator_wasm.js
DIR=.cache/node
STAMP="$DIR/.installed-$VALIDATOR-$WASM_FROM"

[ -f "$STAMP" ] && [ -x "$DIR/node_modules/.bin/amphtml-validator" ] && [ -s "$DIR/validator_wasm.js" ] && exit 0

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "the AMP validator test needs node and npm: sudo apt-get install -y nodejs npm" >&2
  exit 1
fi

echo "make test: installing $VALIDATOR and validator_wasm.js (from $WASM_FROM) into $DIR" >&2
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-audit --no-fund --silent "$VALIDATOR" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$(cd "$work" && npm pack --silent "$WASM_FROM" | tail -n 1)"
tar -xzf "$work/$tarball" -C "$work" "$WASM_PATH"
mv "$work/$WASM_PATH" "$DIR/validator_wasm.js"
rm -f "$DIR"/.installed-*
touch "$STAMP"
