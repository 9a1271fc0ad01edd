#!/usr/bin/env bash
# Installs the real peers the interop tests talk to, then builds the fixtures that need compiling.
#
#   npm run peers:install
#
# Debian packages (needs root, or sudo):
#   - Go toolchain and Debian's hashicorp/go-plugin for the Go host and plugin fixtures (GOPATH mode);
#   - LuaJIT with lua-MessagePack and LuaSocket, to play Kong with Kong's own msgpack encoder.
# kong-pdk (Kong's JS plugin server) is an npm dev dependency and comes with `npm install`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  golang-go
  golang-github-hashicorp-go-plugin-dev
  golang-google-grpc-dev
  golang-github-golang-protobuf-1-5-dev
  golang-golang-x-net-dev
  luajit
  lua-messagepack
  lua-socket
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  echo "peers:install: installing ${missing[*]}"
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "peers:install: Debian packages already installed"
fi

# Each fixture that needs compiling has a build.sh beside its sources; run them all.
for build in test/fixtures/*/build.sh; do
  [ -e "$build" ] || continue
  echo "peers:install: $build"
  bash "$build"
done
