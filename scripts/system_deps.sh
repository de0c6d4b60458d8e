#!/usr/bin/env bash
# Best-effort system packages for the browser tests: Debian's Chromium (driven by Playwright for
# Python via executable_path; never `playwright install`) and fonts-nanum (Hangul). Installs via
# apt only when running as root and something is missing; otherwise says why it skipped.
# Never fails the build: the browser tests skip with a reason when Chromium is absent.
set -u
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi nanum || need+=(fonts-nanum)
if [ ${#need[@]} -eq 0 ]; then
  echo "system-deps: chromium and fonts-nanum present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "system-deps: skipped (not root): missing ${need[*]}; browser tests will skip"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "system-deps: skipped (no apt-get): missing ${need[*]}; browser tests will skip"
  exit 0
fi
echo "system-deps: installing ${need[*]} (about 45 s)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >/tmp/system-deps.log 2>&1; then
  echo "system-deps: apt-get failed (see /tmp/system-deps.log); browser tests will skip"
fi
exit 0
