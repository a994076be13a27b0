#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the llama.cpp sources that the installed llama-cpp-python release
# vendors (its source package from the registry), so the server runs the same llama.cpp as the app.
# Compiled like the app's llama.cpp (llama-build-env.sh); the build (~10 min on 2 cores) is kept in the
# user's cache, keyed by version and CPU, and reused.
# Usage: build-llama-server.sh PYTHON DESTINATION
set -euo pipefail
python="$1"
destination="$2"
source "$(dirname "$0")/llama-build-env.sh"
version=$("$python" -c "import llama_cpp; print(llama_cpp.__version__)")
cache="$LLAMA_CACHE/llama-server-$version-$LLAMA_CPU_KEY"
if [ ! -x "$cache/llama-server" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "building llama-server $version from source (about 10 minutes on 2 cores)"
  "$python" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work"
  tar -xzf "$work/llama_cpp_python-$version.tar.gz" -C "$work"
  cmake -S "$work/llama_cpp_python-$version/vendor/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DCMAKE_C_FLAGS="$LLAMA_CPU_FLAGS" -DCMAKE_CXX_FLAGS="$LLAMA_CPU_FLAGS" \
    >"$work/cmake.log"
  cmake --build "$work/build" --target llama-server -j"$(nproc)" >"$work/build.log"
  mkdir -p "$cache"
  cp "$work/build/bin/llama-server" "$cache/llama-server.tmp"
  mv "$cache/llama-server.tmp" "$cache/llama-server"
fi
install -m 755 "$cache/llama-server" "$destination"
echo "llama-server $version ready: $destination"
