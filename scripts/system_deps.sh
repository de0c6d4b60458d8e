#!/usr/bin/env bash
# Best-effort system packages for the tests that need real programs: Debian's Chromium (driven
# by Playwright for Python via executable_path; never `playwright install`), fonts-nanum (Hangul)
# and a MariaDB server (the store tests; PostgreSQL comes with these machines). Installs via apt
# only when running as root and something is missing; otherwise says why it skipped. Never fails
# the build: the tests that need a missing program skip with the reason.
set -u
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi nanum || need+=(fonts-nanum)
command -v mariadbd >/dev/null || need+=(mariadb-server)
if [ ${#need[@]} -eq 0 ]; then
  echo "system-deps: chromium, fonts-nanum and mariadb-server present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "system-deps: skipped (not root): missing ${need[*]}; the tests that need them will skip"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "system-deps: skipped (no apt-get): missing ${need[*]}; the tests that need them will skip"
  exit 0
fi
echo "system-deps: installing ${need[*]} (about a minute)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
    >/tmp/system-deps.log 2>&1; then
  echo "system-deps: apt-get failed (see /tmp/system-deps.log); the tests that need ${need[*]} will skip"
fi
exit 0
