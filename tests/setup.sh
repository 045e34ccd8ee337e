#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine: the package with its test extra, and
# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; it downloads nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -e '.[test]'
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "tests/setup.sh: could not install chromium; browser tests will fail under CI=true" >&2
  elif command -v sudo >/dev/null 2>&1; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "tests/setup.sh: could not install chromium; browser tests will fail under CI=true" >&2
  else
    echo "tests/setup.sh: install Chromium (apt-get install chromium) to run the browser tests" >&2
  fi
fi
