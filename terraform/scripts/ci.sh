#!/usr/bin/env bash
# Everything CI runs for terraform/, offline, with the real AWS provider:
#   terraform/scripts/ci.sh [dist_dir]
#
# The provider comes from a local filesystem mirror (TF_PLUGIN_DIR, default
# /opt/tf-plugins, laid out as <host>/<namespace>/<type>/<version>/<os_arch>);
# without it this script fails: nothing here is skipped. Steps: fmt check;
# `terraform test` of the provider-free modules; init + validate of the root
# module, every example and every submodule; the root module's
# `terraform test` (plans and mocked applies, no credentials); check-dist.sh
# on fixtures (and on dist_dir when given: the real build); the README docs
# check and its self-test; checkov with every skip explained. Runs every
# step, then exits non-zero if any failed.
set -uo pipefail

tf_dir=$(cd "$(dirname "$0")/.." && pwd -P)
dist_dir=${1:-}

missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "ci.sh: $1 is not installed; install it with: $2" >&2
    missing=1
  fi
}
need terraform "the HashiCorp release for your platform (or \`nix develop\`)"
need python3 "apt-get install -y python3"
# checkov pins old boto3/botocore, so it lives in its own virtualenv rather
# than beside moto and awscli.
checkov=${CHECKOV:-}
if [[ -z "$checkov" ]]; then
  if [[ -x /opt/checkov/bin/checkov ]]; then
    checkov=/opt/checkov/bin/checkov
  elif command -v checkov >/dev/null 2>&1 && checkov --version >/dev/null 2>&1; then
    checkov=checkov
  else
    echo "ci.sh: checkov is not installed; install it with:" >&2
    echo "  python3 -m venv /opt/checkov && /opt/checkov/bin/pip install checkov==3.3.30" >&2
    missing=1
  fi
fi

# The hashicorp/aws provider, from a filesystem mirror: the registry is not
# reachable from CI, and a test run must never download anything.
plugin_dir=${TF_PLUGIN_DIR:-/opt/tf-plugins}
provider=$(find "$plugin_dir/registry.terraform.io/hashicorp/aws" -name 'terraform-provider-aws*' -type f 2>/dev/null | sort | tail -n 1)
if [[ -z "$provider" ]]; then
  echo "ci.sh: no hashicorp/aws provider under $plugin_dir/registry.terraform.io/hashicorp/aws" >&2
  echo "  The Terraform checks need the real provider binary (5.100 or 6.x). On a machine with" >&2
  echo "  network: terraform -chdir=terraform providers mirror -platform=linux_amd64 $plugin_dir" >&2
  echo "  (or point TF_PLUGIN_DIR at an existing mirror)." >&2
  missing=1
fi
[[ $missing -eq 0 ]] || exit 1
echo "ci.sh: AWS provider $(basename "$(dirname "$(dirname "$provider")")") from $plugin_dir"

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Only the mirror, for every provider; the cache keeps one copy of the
# 700 MB binary across working directories (init links it from there).
plugin_cache=${TF_PLUGIN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lambda-forge/terraform-plugins}
mkdir -p "$plugin_cache"
export TF_CLI_CONFIG_FILE="$log/terraformrc"
cat >"$TF_CLI_CONFIG_FILE" <<CONFIG
plugin_cache_dir = "$plugin_cache"
provider_installation {
  filesystem_mirror {
    path    = "$plugin_dir"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
CONFIG
unset TF_PLUGIN_CACHE_DIR

failures=()
tests_passed=0
tests_failed=0

step() {
  local name=$1
  shift
  echo "== $name"
  if "$@" 2>&1 | tee "$log/out"; then
    echo "== $name: ok"
  else
    echo "== $name: FAILED"
    failures+=("$name")
  fi
  # Count `terraform test` results ("Success! 22 passed, 0 failed." / "Failure! ...").
  local counts
  counts=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log/out" | tail -n 1 || true)
  if [[ -n "$counts" ]]; then
    tests_passed=$((tests_passed + $(cut -d' ' -f1 <<<"$counts")))
    tests_failed=$((tests_failed + $(cut -d' ' -f3 <<<"$counts")))
  fi
}

init() {
  terraform -chdir="$tf_dir/$1" init -backend=false -no-color >"$log/init" 2>&1 || {
    cat "$log/init"
    return 1
  }
}

module_test() {
  init "$1" && terraform -chdir="$tf_dir/$1" test -no-color
}

validate() {
  init "$1" && terraform -chdir="$tf_dir/$1" validate -no-color
}

expect_failure() {
  if "$@" >"$log/neg" 2>&1; then
    echo "expected a failure from: $*" >&2
    cat "$log/neg" >&2
    return 1
  fi
  echo "failed as expected: $*"
}

docs_self_test() {
  # A variable added without regenerating the README must fail the check.
  local copy
  copy=$(mktemp -d)
  cp "$tf_dir"/modules/schema/*.tf "$tf_dir"/modules/schema/README.md "$copy"/
  printf '\nvariable "undocumented" {\n  type = string\n}\n' >>"$copy/variables.tf"
  expect_failure python3 "$tf_dir/scripts/tfdocs.py" --check "$copy"
  local rc=$?
  rm -rf "$copy"
  return $rc
}

checkov_scan() {
  # 0 failed, and every skip carries a reason worth the name.
  local bare
  bare=$(grep -rnE '#checkov:skip=[A-Z0-9_]+(:.{0,19})?$' --include='*.tf' "$tf_dir" || true)
  if [[ -n "$bare" ]]; then
    echo "checkov skips without a reason (write why after the colon):" >&2
    echo "$bare" >&2
    return 1
  fi
  "$checkov" -d "$tf_dir" --framework terraform --quiet --compact --skip-download
}

step "terraform fmt -check" terraform fmt -check -recursive -diff -no-color "$tf_dir"
step "terraform test modules/artifacts" module_test modules/artifacts
step "terraform test modules/schema" module_test modules/schema
step "terraform validate ." validate .
for example in "$tf_dir"/examples/*/; do
  example=examples/$(basename "$example")
  step "terraform validate $example" validate "$example"
done
for module in "$tf_dir"/modules/*/; do
  module=modules/$(basename "$module")
  step "terraform validate $module" validate "$module"
done
step "terraform test . (plans and mocked applies)" terraform -chdir="$tf_dir" test -no-color
step "check-dist on a fixture build" "$tf_dir/scripts/check-dist.sh" "$tf_dir/modules/artifacts/tests/fixtures/valid"
step "check-dist refuses a tampered build" expect_failure "$tf_dir/scripts/check-dist.sh" "$tf_dir/modules/artifacts/tests/fixtures/hash-mismatch"
if [[ -n "$dist_dir" ]]; then
  step "check-dist on $dist_dir" "$tf_dir/scripts/check-dist.sh" "$dist_dir"
fi
readmes=("$tf_dir")
for d in "$tf_dir"/modules/*/ "$tf_dir"/examples/*/; do
  readmes+=("${d%/}")
done
step "README tables match the .tf files" python3 "$tf_dir/scripts/tfdocs.py" --check "${readmes[@]}"
step "docs-drift check catches an undocumented variable" docs_self_test
step "checkov" checkov_scan

echo
if [[ ${#failures[@]} -gt 0 ]]; then
  printf 'ci.sh: failed step: %s\n' "${failures[@]}" >&2
fi
echo "terraform: $tests_passed passed, $tests_failed failed"
[[ ${#failures[@]} -eq 0 ]]
