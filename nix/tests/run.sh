#!/usr/bin/env bash
# Every Nix test that runs without nixpkgs (Nix cannot build here):
#   1. every .nix file of the repository parses (undefined variables included)
#      and is formatted by crates/nix-fmt (the flake's nix-fmt check and
#      `nix fmt` run the same program);
#   2. the pure helpers' suites evaluate with nix-instantiate --eval --strict;
#   3. the artifact set Nix derives equals `lambda-pack artifacts` on this
#      repository and on every fixture workspace (same refusals too).
# Exits non-zero on the first failing stage.
set -euo pipefail

cd "$(dirname "$0")/../.."

if ! command -v nix-instantiate >/dev/null 2>&1; then
  echo "nix-instantiate not found: install it with 'apt-get install -y nix-bin'" >&2
  exit 1
fi

eval_suite() {
  # Prints the suite's closing line ("<suite>: N passed, 0 failed").
  nix-instantiate --eval --strict "$@" | tr -d '"'
}

# 1. parse and format
nix_files=()
while IFS= read -r -d '' file; do
  nix_files+=("$file")
done < <(find . \( -path ./target -o -path ./.git -o -path ./result -o -name 'result-*' \) -prune -o -name '*.nix' -print0)

parsed=0
failed=0
for file in "${nix_files[@]}"; do
  if nix-instantiate --parse "$file" >/dev/null; then
    parsed=$((parsed + 1))
  else
    echo "does not parse: $file" >&2
    failed=$((failed + 1))
  fi
done
echo "nix-parse: $parsed passed, $failed failed"
if [ "$failed" -ne 0 ] || [ "$parsed" -eq 0 ]; then
  exit 1
fi

# The one Nix formatter: crates/nix-fmt (the nixfmt_rs library, pinned in
# Cargo.lock), which the flake's nix-fmt check and `nix fmt` run as well.
if ! cargo run --quiet --locked -p nix-fmt -- --check "${nix_files[@]}"; then
  echo "format with: cargo run -p nix-fmt -- <file> (or nix fmt)" >&2
  exit 1
fi

# 2. pure helper suites
for suite in nix/tests/helpers.nix nix/tests/artifacts.nix nix/tests/flake-lock.nix; do
  eval_suite "$suite"
done

# 3. parity with lambda-pack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --quiet --locked -p lambda-pack --bin lambda-pack
lambda_pack=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/lambda-pack
if [ ! -x "$lambda_pack" ]; then
  echo "lambda-pack binary not found at $lambda_pack" >&2
  exit 1
fi

listings="$work/listings.json"
{
  printf '{'
  sep=''
  for dir in . nix/tests/fixtures/*/; do
    dir=${dir%/}
    label=${dir##*/}
    [ "$dir" = . ] && label=repository
    abs=$(cd "$dir" && pwd)
    if "$lambda_pack" artifacts --workspace "$abs" >"$work/out.json" 2>"$work/err"; then
      listing=$(cat "$work/out.json")
    else
      status=$?
      if [ "$status" -ne 1 ]; then
        echo "lambda-pack artifacts --workspace $dir: exit $status (expected 0 or 1): $(cat "$work/err")" >&2
        exit 1
      fi
      listing=null
    fi
    printf '%s"%s":{"path":"%s","listing":%s}' "$sep" "$label" "$abs" "$listing"
    sep=','
  done
  printf '}\n'
} >"$listings"

eval_suite nix/tests/lambda-pack-parity.nix --argstr listings "$listings"
