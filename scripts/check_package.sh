#!/usr/bin/env bash
# Packaging check: `npm pack`, then install the tarball into an empty folder and load it with
# require() and import. npm may take kiln's dependencies from the registry where its cache lacks
# them (a fresh CI machine's cache holds tarballs but not the metadata --offline needs); kiln's own
# install downloads nothing (no Node headers, no binaries: the build uses the local nodedir); then the same with a prebuild
# made by `npm run prebuild`, which node-gyp-build must pick up without compiling.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

smoke='const k = require("kiln"); const t = k.tensor([[1, 2], [3, 4]], { dtype: "float32" });
if (t.matmul(t).sum().item() !== 54) throw new Error("wrong result"); console.log("require ok:", k.info().isa);'
esm='import * as k from "kiln"; import { ones } from "kiln"; if (ones([3]).sum().item() !== 3) throw new Error("esm"); console.log("import ok:", typeof k.tensor);'

install_and_load() { # $1: label, $2: tarball
  local dir="$work/$1"
  mkdir -p "$dir" && cd "$dir"
  npm init -y >/dev/null
  npm install --prefer-offline --no-audit --no-fund "$2" >/dev/null 2>"$dir/npm.log" || { cat "$dir/npm.log"; exit 1; }
  node -e "$smoke"
  echo "$esm" >check.mjs && node check.mjs
}

cd "$root"
tgz=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "packed $tgz ($(du -h "$work/$tgz" | cut -f1))"
install_and_load from-source "$work/$tgz"
test -f "$work/from-source/node_modules/kiln/build/Release/kiln.node" || { echo "expected a source build"; exit 1; }

# A prebuild, made by `npm run prebuild` in an unpacked copy of the package (so the working
# tree's build/ is left alone), must load without compiling.
mkdir -p "$work/pkg" && tar -xzf "$work/$tgz" -C "$work/pkg"
cd "$work/pkg/package"
ln -s "$root/node_modules" node_modules
npm run prebuild --silent >"$work/prebuild.log" 2>&1 || { cat "$work/prebuild.log"; echo "npm run prebuild failed"; exit 1; }
ls prebuilds/*/
rm -rf build node_modules
tgz2=$(npm pack --silent --ignore-scripts --pack-destination "$work" | tail -n 1)
mv "$work/$tgz2" "$work/prebuilt-$tgz2"
install_and_load with-prebuild "$work/prebuilt-$tgz2"
test ! -d "$work/with-prebuild/node_modules/kiln/build" || { echo "a prebuild was shipped, but the install compiled anyway"; exit 1; }
echo "package check passed"
