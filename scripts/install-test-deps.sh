#!/usr/bin/env bash
# Install what the test suite needs beyond the virtualenv:
# - from Debian: Chromium and its WebDriver, for the browser test of /docs
#   (tests/proof/test_browser.py); curl, which runs the README's curl sessions
#   (tests/test_readme.py); Node.js and npm when the machine has none, for the TypeScript
#   client generated from openapi.json (tests/proof/test_typescript_client.py);
# - from npm: that client's toolchain, exactly as tests/proof/typescript/package-lock.json
#   pins it, into tests/proof/typescript/node_modules (ignored by git).
#
# Safe to run again and again: it does nothing when everything is installed. Without apt-get
# or npm, or when an install fails outside CI, it only warns; the tests that need the missing
# piece then skip on a developer's machine, and fail under CI=true, where a missing piece is
# a broken setup.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
client="$root/tests/proof/typescript"

warn_or_fail() {
    echo "install-test-deps: $1" >&2
    # Under CI a missing piece must fail loudly; elsewhere its tests skip with a reason.
    [ -n "${CI:-}" ] && exit 1
    return 0
}

install_debian_packages() {
    local missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    [ "${#missing[@]}" -eq 0 ] && return 0

    local need="the tests need: ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        warn_or_fail "apt-get not found (not Debian or Ubuntu?); $need"
        return 0
    fi
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            warn_or_fail "not root and sudo not found; $need"
            return 0
        fi
        as_root=(sudo)
    fi
    echo "install-test-deps: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! "${as_root[@]}" apt-get update -qq >/dev/null; then
        warn_or_fail "apt-get update failed; $need"
        return 0
    fi
    if ! "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; then
        warn_or_fail "apt-get install failed; $need"
    fi
}

install_npm_packages() {
    if ! command -v npm >/dev/null 2>&1; then
        warn_or_fail "npm not found; the TypeScript client test needs it"
        return 0
    fi
    # npm ci wipes and reinstalls node_modules; skip it while the lock file is unchanged.
    local stamp="$client/node_modules/.installed-lock"
    if [ -f "$stamp" ] && cmp -s "$stamp" "$client/package-lock.json"; then
        return 0
    fi
    echo "install-test-deps: installing the TypeScript client's npm packages (npm ci)" >&2
    if (cd "$client" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
        cp "$client/package-lock.json" "$stamp"
    else
        warn_or_fail "npm ci failed in $client"
    fi
}

install_debian_packages
install_npm_packages
