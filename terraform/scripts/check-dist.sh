#!/usr/bin/env bash
# Checks a real build (dist/ from `cargo xtask dist`, or the flake's result/)
# with the same validations Terraform applies at deploy time, offline:
#   terraform/scripts/check-dist.sh dist
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 <artifacts_dir containing manifest.json>" >&2
  exit 2
fi
if [[ ! -f "$1/manifest.json" ]]; then
  echo "check-dist: no manifest.json in $1 (run \`cargo xtask dist\` or \`nix build\` first)" >&2
  exit 1
fi
command -v terraform >/dev/null || {
  echo "check-dist: terraform is not installed (https://developer.hashicorp.com/terraform/install, or \`nix develop\`)" >&2
  exit 1
}

dir=$(cd "$1" && pwd -P)
module=$(cd "$(dirname "$0")/../modules/artifacts" && pwd -P)

cd "$module"
export TF_IN_AUTOMATION=1
terraform init -backend=false -input=false -no-color >/dev/null
terraform test -no-color -test-directory=tests/dist -var "artifacts_dir=$dir"
