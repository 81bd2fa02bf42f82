#!/usr/bin/env bash
# Everything CI runs for terraform/, offline (no provider download):
#   terraform/scripts/ci.sh [dist_dir]
# fmt check; `terraform test` in each provider-free module; check-dist.sh on
# fixtures (and on dist_dir when given: the real build); the README docs-drift
# check and its self-test; checkov. Runs every step, then exits non-zero if
# any failed.
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
[[ $missing -eq 0 ]] || exit 1

export TF_IN_AUTOMATION=1 TF_INPUT=0
# Terraform warns on every command when the CLI config file is absent.
if [[ -z "${TF_CLI_CONFIG_FILE:-}" && ! -e "$HOME/.terraformrc" ]]; then
  TF_CLI_CONFIG_FILE=$(mktemp)
  export TF_CLI_CONFIG_FILE
fi

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
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

module_test() {
  (cd "$tf_dir/$1" && terraform init -backend=false -no-color >/dev/null && terraform test -no-color)
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

step "terraform fmt -check" terraform fmt -check -recursive -diff -no-color "$tf_dir"
step "terraform test modules/artifacts" module_test modules/artifacts
step "terraform test modules/schema" module_test modules/schema
step "check-dist on a fixture build" "$tf_dir/scripts/check-dist.sh" "$tf_dir/modules/artifacts/tests/fixtures/external"
step "check-dist refuses a tampered build" expect_failure "$tf_dir/scripts/check-dist.sh" "$tf_dir/modules/artifacts/tests/fixtures/hash-mismatch"
if [[ -n "$dist_dir" ]]; then
  step "check-dist on $dist_dir" "$tf_dir/scripts/check-dist.sh" "$dist_dir"
fi
step "README tables match the .tf files" python3 "$tf_dir/scripts/tfdocs.py" --check \
  "$tf_dir" "$tf_dir/modules/artifacts" "$tf_dir/modules/schema" "$tf_dir/examples/complete"
step "docs-drift check catches an undocumented variable" docs_self_test
step "checkov" "$checkov" -d "$tf_dir" --framework terraform --quiet --compact --skip-download

echo
if [[ ${#failures[@]} -gt 0 ]]; then
  printf 'ci.sh: failed step: %s\n' "${failures[@]}" >&2
fi
echo "terraform: $tests_passed passed, $tests_failed failed"
[[ ${#failures[@]} -eq 0 ]]
