#!/bin/sh
# Installs the Debian packages that the end-to-end tests drive, unless they are already there:
#   chromium, chromium-driver, fonts-liberation  the caption page and the subtitles in a real browser
#                                                (fonts-liberation: readable text in screenshots)
#   xvfb, xdotool                                the `emocap live` window on a virtual screen, real key presses
#   qemu-user                                    the int8 model on an emulated CPU without AVX-512 / VNNI
set -eu

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/bin/chromedriver ] || missing="$missing chromium-driver"
[ -d /usr/share/fonts/truetype/liberation ] || missing="$missing fonts-liberation"
command -v Xvfb >/dev/null 2>&1 || missing="$missing xvfb"
command -v xdotool >/dev/null 2>&1 || missing="$missing xdotool"
command -v qemu-x86_64 >/dev/null 2>&1 || missing="$missing qemu-user"
if [ -z "$missing" ]; then
    echo "test tools already installed: $(/usr/bin/chromium --version 2>/dev/null), Xvfb, xdotool, qemu-user"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "installed:$missing"
