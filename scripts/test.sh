#!/bin/sh
# Install emocap with its training, test and cluster (Ray) extras into .venv, install Chromium for the
# browser test of the caption page, and run the whole test suite.
#
#   sh scripts/test.sh            (extra arguments go to pytest, e.g. -k memory)
set -eu
cd "$(dirname "$0")/.."

python3 -m venv .venv
. .venv/bin/activate
# torch and torchvision are pinned in the [train] extra to the releases pip finds on this
# machine's disk; other versions cost gigabytes of download.
python -m pip install --quiet --disable-pip-version-check -e '.[train,test,cluster]'

if command -v apt-get >/dev/null 2>&1; then
    sh scripts/install-test-tools.sh
else
    echo "note: no apt-get here; install chromium, xvfb and xdotool yourself, or the browser and window tests are skipped"
fi

python -m pytest "$@"
