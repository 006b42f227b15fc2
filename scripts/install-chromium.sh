#!/bin/sh
# Installs Debian's Chromium and its WebDriver for the browser test of the
# caption page (tests/test_web_browser.py), unless they are already there.
# fonts-liberation is the one recommended package the screenshots need (readable text).
set -eu

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation
echo "installed: $(/usr/bin/chromium --version 2>/dev/null)"
