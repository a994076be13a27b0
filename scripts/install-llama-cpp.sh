#!/usr/bin/env bash
# Installs llama-cpp-python, the version pyproject.toml pins, compiled from its source package for this
# CPU (~6 min on 2 cores). The wheel is kept in the user's cache, keyed by version and CPU, so a new venv
# reuses it; pip's own wheel cache is not used, as it would hand over a build made for another CPU.
# Usage: install-llama-cpp.sh PYTHON
set -euo pipefail
python="$1"
source "$(dirname "$0")/llama-build-env.sh"
version=$("$python" -c '
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print(next(re.search(r"==([\w.]+)", d)[1] for d in deps if d.startswith("llama-cpp-python")))')
cache="$LLAMA_CACHE/llama-cpp-python-$version-$LLAMA_CPU_KEY"
if ! compgen -G "$cache/llama_cpp_python-$version-*.whl" >/dev/null; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "compiling llama-cpp-python $version for this CPU (about 6 minutes on 2 cores)"
  CMAKE_ARGS="-DCMAKE_C_FLAGS='$LLAMA_CPU_FLAGS' -DCMAKE_CXX_FLAGS='$LLAMA_CPU_FLAGS'" \
    "$python" -m pip wheel --quiet --no-cache-dir --no-deps "llama-cpp-python==$version" -w "$work"
  mkdir -p "$cache"
  mv "$work"/llama_cpp_python-"$version"-*.whl "$cache/"
fi
# --force-reinstall: a venv may hold the same version built elsewhere (or by pip alone).
"$python" -m pip install --quiet --no-deps --force-reinstall "$cache"/llama_cpp_python-"$version"-*.whl
