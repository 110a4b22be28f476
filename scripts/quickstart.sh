#!/usr/bin/env bash
# Builds superserverd and runs it in the foreground on examples/superserverd.yaml.
# Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target superserverd superctl
exec ./build/superserverd -c examples/superserverd.yaml "$@"
