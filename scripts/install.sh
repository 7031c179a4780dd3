#!/usr/bin/env bash
# Installs everything on a fresh Debian machine: Coq 8.16, its libraries and CoqHammer's external
# provers (apt, as root or with sudo), then a virtual environment in .venv with torch's CPU build
# first and the project with its test extras. Afterwards `. .venv/bin/activate` puts our `prove`
# ahead of Perl's /usr/bin/prove.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# eprover, z3 and cvc4 are the external provers CoqHammer's `hammer` calls.
APT_PACKAGES="coq libcoq-stdlib libcoq-coquelicot libcoq-hammer coinor-csdp eprover z3 cvc4"
if ! command -v coqidetop.opt >/dev/null 2>&1 || ! dpkg -s $APT_PACKAGES >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $APT_PACKAGES >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[test]'
echo "installed: run '. .venv/bin/activate' to put 'prove' on PATH, then 'prove --version'"
