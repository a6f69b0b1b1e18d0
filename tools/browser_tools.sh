#!/bin/sh
# Chromium (for the tests in a real browser: tests/test_slides_browser.py, tests/test_explorer_browser.py) and
# npm (for the offline slide decks of `make slides`): Debian's packages, installed with apt-get where a tool is
# missing and this machine allows it (root and apt-get, as in CI).
#
#   sh tools/browser_tools.sh require chromium|npm   # make chromium, make slides: install, or fail with one line
#   sh tools/browser_tools.sh for-test               # make test: install what can be installed; for the rest,
#       one line naming what is skipped and how to get it (exit 0): a learner's laptop without root or apt-get
#       still runs every other test. Under CI (CI set, as CI services do) a skip is an error (exit 1).
set -u

in_ci() { case "${CI:-}" in "" | 0 | false | False | FALSE) return 1 ;; *) return 0 ;; esac; }
have() { command -v "$1" >/dev/null 2>&1; }
present() { if [ "$1" = chromium ]; then have chromium || have chromium-browser; else have "$1"; fi; }

# Why apt-get cannot install here (empty when it can).
why_not_installable() {
    if ! have apt-get; then echo "there is no apt-get"
    elif [ "$(id -u)" != 0 ]; then echo "apt-get needs root"
    fi
}

# Install the missing tools among "$@" with apt-get where possible; print the ones still missing.
install_missing() {
    missing=""
    for tool in "$@"; do present "$tool" || missing="$missing $tool"; done
    if [ -n "$missing" ] && [ -z "$(why_not_installable)" ]; then
        # shellcheck disable=SC2086  # one package name per word
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $missing; } >&2
    fi
    for tool in "$@"; do present "$tool" || printf '%s ' "$tool"; done
}

case "${1:-}" in
require)
    still=$(install_missing "$2")
    [ -z "$still" ] && exit 0
    reason=$(why_not_installable)
    echo "error: $2 is not installed and could not be installed here (${reason:-apt-get install $2 failed}):" \
        "install it (Debian/Ubuntu: sudo apt-get install $2; elsewhere put $2 on PATH) and run make again" >&2
    exit 1
    ;;
for-test)
    still=$(install_missing chromium npm)
    [ -z "$still" ] && exit 0
    skipped=""
    case "$still" in *chromium*) skipped="the browser tests (no chromium)" ;; esac
    case "$still" in *npm*) skipped="${skipped:+$skipped and }the slide decks (no npm)" ;; esac
    reason=$(why_not_installable)
    reason=${reason:-apt-get install failed}
    packages=${still% }
    names=$(echo "$packages" | sed 's/ / and /')
    if in_ci; then
        echo "error: CI must run the browser tests and build the slide decks, but $names could not be" \
            "installed ($reason)" >&2
        exit 1
    fi
    echo "make test: skipping $skipped, which cannot be installed here ($reason); to include them:" \
        "sudo apt-get install $packages (Debian/Ubuntu; elsewhere put $names on PATH), then make test again"
    ;;
*)
    echo "usage: sh tools/browser_tools.sh require chromium|npm, or sh tools/browser_tools.sh for-test" >&2
    exit 2
    ;;
esac
