#!/usr/bin/env bash
# Installs the Debian packages lorakit builds against, only those that are missing.
# Usage: scripts/bootstrap.sh   (run by `make demo`, `make test` and `make bench`)
set -euo pipefail

packages=(liblapacke-dev libopenblas-dev libjson-c-dev libstb-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    echo "bootstrap: installing ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then sudo="sudo"; else
            echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
    echo "bootstrap: the Swift 6 toolchain is not on PATH (https://www.swift.org/install/linux/)" >&2
    exit 1
fi
