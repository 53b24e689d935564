#!/usr/bin/env bash
# The Debian packages the test suite needs; `make test` runs this before any Python work.
#
# Contract:
#   - Each package has a probe, a shell command that succeeds when the package is there
#     (a command on PATH, /usr/bin/chromium, the Noto CJK font as fontconfig lists it).
#   - Nothing missing: exit 0, print nothing, run no apt-get.
#   - Something missing, root and apt-get: `apt-get update` once, then one noninteractive
#     `apt-get install -y -qq` of every missing package; exit 0 when each probe then passes, 1 if not.
#   - Something missing otherwise: one message on stderr naming the missing packages and the
#     `sudo apt-get install ...` command that installs them; exit 1.
#   AFTERORDER_TEST_DEPS replaces the list below (same form: one "package: probe" a line), which is
#   how tests/integration/test_test_deps.py makes a package be missing.
set -euo pipefail

# spamassassin: tests/integration/test_spam_score.py scores every built-in message with it.
# chromium, fontconfig, fonts-noto-cjk: the browser tests in tests/e2e, which see Japanese drawn with a CJK font.
# openssl: tests/integration/test_smtp_tls.py makes its test certificate with it.
# curl, jq, sqlite3: tests/e2e/test_docs_commands.py runs the documents' commands, which use them.
# nodejs, npm: the official AMP validator (tests/integration/test_amp_email.py), which scripts/amp-validator.sh
#   then installs from npm into .cache/node.
# (Postfix's smtp-sink/smtp-source are for `make bench` only: bench/install-smtp-tools.sh.)
DEFAULT_DEPS='spamassassin: command -v spamassassin
chromium: test -x /usr/bin/chromium
fontconfig: command -v fc-list
fonts-noto-cjk: fc-list :lang=ja family | grep -q "Noto Sans CJK"
openssl: command -v openssl
curl: command -v curl
jq: command -v jq
sqlite3: command -v sqlite3
nodejs: command -v node
npm: command -v npm'
DEPS="${AFTERORDER_TEST_DEPS:-$DEFAULT_DEPS}"

# The packages whose probe fails, space-separated.
missing_packages() {
  local package probe missing=""
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    package="${line%%:*}"
    probe="${line#*:}"
    if ! bash -c "$probe" </dev/null >/dev/null 2>&1; then
      missing="$missing $package"
    fi
  done <<<"$DEPS"
  echo "${missing# }"
}

missing="$(missing_packages)"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs Debian packages that are missing: $missing" >&2
  echo "Install them with:  sudo apt-get install -y $missing   (or run make test as root, which installs them)" >&2
  exit 1
fi

echo "make test: installing $missing (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # one word per package
apt-get install -y -qq $missing >/dev/null
still="$(missing_packages)"
if [ -n "$still" ]; then
  echo "make test: still missing after apt-get install: $still" >&2
  exit 1
fi
