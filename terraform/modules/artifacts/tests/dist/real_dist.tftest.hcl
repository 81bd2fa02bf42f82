# Run by scripts/check-dist.sh against a real build (dist/ or result/):
#   terraform test -test-directory=tests/dist -var artifacts_dir=/abs/path/to/dist
# It is kept out of tests/ so that the plain `terraform test` needs no build.

variables {
  # External layers are attached by ARN at deploy time; the check only needs
  # one per name the manifest declares, so stand-in ARNs are enough here.
  external_layers = {
    for n, l in try(jsondecode(file("${var.artifacts_dir}/manifest.json")).external_layers, {}) :
    n => { arn = "arn:aws:lambda:us-east-1:000000000000:layer:${n}:1" }
  }
}

run "built_artifacts_pass_every_validation" {
  command = plan

  assert {
    condition     = length(local.errors) == 0
    error_message = "the build fails validation: ${jsonencode(local.errors)}"
  }
  assert {
    condition     = length(output.functions) > 0
    error_message = "the manifest lists no function"
  }
}

run "built_archives_match_their_manifest_hashes" {
  command = plan

  assert {
    condition     = alltrue([for f in values(output.functions) : f.source_code_hash == filebase64sha256(f.filename)])
    error_message = "a function's zip differs from its manifest hash"
  }
  assert {
    condition     = alltrue([for l in values(output.layers) : l.source_code_hash == filebase64sha256(l.filename)])
    error_message = "a layer's zip differs from its manifest hash"
  }
}

run "built_functions_target_graviton_custom_runtime" {
  command = plan

  assert {
    condition     = alltrue([for f in values(output.functions) : jsonencode(f.architectures) == jsonencode(["arm64"]) && f.runtime == "provided.al2023" && f.handler == "bootstrap"])
    error_message = "every function must be arm64 / provided.al2023 / bootstrap"
  }
  assert {
    condition     = alltrue([for l in values(output.layers) : contains(l.compatible_architectures, "arm64") && contains(l.compatible_runtimes, "provided.al2023")])
    error_message = "every layer must be compatible with arm64 and provided.al2023"
  }
}

run "built_manifest_declares_the_api" {
  command = plan

  assert {
    condition     = length(output.api.routes) > 0 && output.api.preflight != null
    error_message = "the build declares no routes or no preflight function: ${jsonencode(output.api)}"
  }
  assert {
    condition     = alltrue([for r in values(output.api.routes) : r.method != "OPTIONS" || r.function == output.api.preflight])
    error_message = "every OPTIONS method goes to the preflight function"
  }
}
