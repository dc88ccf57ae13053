#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (chromedriver) where they are missing, for
# the web console's browser test. Never fails: without them the test says it skipped.
set -uo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
echo "==> installing chromium and chromium-driver (Debian's packages) for the console's browser test"
export DEBIAN_FRONTEND=noninteractive
sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo -n"
if ! $sudo_ apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; then
  $sudo_ apt-get update -q >/dev/null 2>&1
  $sudo_ apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 ||
    echo "could not install chromium here; the console's browser test will skip"
fi
exit 0
