#!/usr/bin/env bash
# Install what the test suite needs from Debian beyond the virtualenv: Chromium and its
# WebDriver, for the browser test of /docs (tests/proof/test_browser.py), and curl, which runs
# the README's curl sessions (tests/test_readme.py).
#
# Safe to run again and again: it does nothing when both are installed. Without apt-get, or
# when the install fails outside CI, it only warns; the browser test then skips on a
# developer's machine, and fails under CI=true, where a missing browser is a broken setup.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ "${#missing[@]}" -eq 0 ] && exit 0

give_up() {
    echo "install-test-deps: $1; the browser test needs: ${missing[*]}" >&2
    # Under CI a missing browser must fail loudly; elsewhere the test skips with this reason.
    [ -n "${CI:-}" ] && exit 1
    exit 0
}

command -v apt-get >/dev/null 2>&1 || give_up "apt-get not found (not Debian or Ubuntu?)"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || give_up "not root and sudo not found"
    as_root=(sudo)
fi

echo "install-test-deps: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null ||
    give_up "apt-get update failed"
"${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null ||
    give_up "apt-get install failed"
