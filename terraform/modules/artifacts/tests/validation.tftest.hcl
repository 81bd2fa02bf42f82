# One failing case per validation: each run asserts that the module refuses
# the directory (expect_failures) and names the exact problem.

run "rejects_a_directory_without_manifest" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/missing-manifest"
  }
  expect_failures = [var.artifacts_dir]
}

run "rejects_a_manifest_that_is_not_json" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/invalid-json"
  }
  expect_failures = [var.artifacts_dir]
}

run "rejects_an_unknown_schema_version" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/wrong-schema-version"
  }
  expect_failures = [var.artifacts_dir]
}

run "rejects_a_missing_archive" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/missing-file"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"users\": users.zip is listed in manifest.json but missing from tests/fixtures/missing-file"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_archive_whose_hash_differs_from_the_manifest" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/hash-mismatch"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "function \"cors\": cors.zip hashes to ${filebase64sha256("tests/fixtures/hash-mismatch/cors.zip")} but manifest.json says ${jsondecode(file("tests/fixtures/hash-mismatch/manifest.json")).functions.cors.base64sha256}; the archive and the manifest come from different builds",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_unknown_layer_reference" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/unknown-layer"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"cors\": layer \"tracing\" is not among the manifest's layers (telemetry)"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_external_layer_without_arn" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/external"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"sms\": external layer \"vendor-observability\" has no ARN in var.external_layers"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_external_layer_without_size" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/external-undeclared"
    external_layers = {
      vendor-observability = { arn = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7" }
    }
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"sms\": external layer \"vendor-observability\" has no unzipped size (declare it in Cargo.toml's external_layers or give unzipped_bytes)"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_attach_to_an_unknown_function" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/valid"
    external_layers = {
      vendor-observability = {
        arn       = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7"
        attach_to = ["cors", "billing"]
      }
    }
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["external layer \"vendor-observability\": attach_to names function \"billing\", which is not in the manifest"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_external_layer_arn_that_is_not_a_layer_version" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/valid"
    external_layers = {
      vendor-observability = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:vendor" }
    }
  }
  expect_failures = [var.external_layers]
}

run "rejects_a_negative_external_layer_size" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/valid"
    external_layers = {
      vendor-observability = { arn = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor:1", unzipped_bytes = -1 }
    }
  }
  expect_failures = [var.external_layers]
}

run "rejects_more_than_five_layers_from_the_manifest" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/too-many-layers"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"cors\": 6 layers (6 built, 0 external) exceed the limit of 5"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_more_than_five_layers_counting_external_ones" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/valid"
    external_layers = {
      for i in range(5) : "vendor-${i}" => {
        arn            = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor-${i}:1"
        unzipped_bytes = 1
        attach_to      = ["cors"]
      }
    }
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"cors\": 6 layers (1 built, 5 external) exceed the limit of 5"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_unzipped_total_over_250_mb" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/too-large"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"cors\": unzipped total of ${200 * 1048576 + 60 * 1048576} bytes with its layers exceeds the limit of 262144000 bytes"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_unzipped_total_over_250_mb_through_an_external_layer" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/valid"
    external_layers = {
      vendor-observability = {
        arn            = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7"
        unzipped_bytes = 262144000 - 5000
        attach_to      = ["*"]
      }
    }
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    # users (5000 + 1500 + external) is over the limit; cors (3000 + 1500 + external) is 500 bytes under it.
    condition     = local.errors == ["function \"users\": unzipped total of ${5000 + 1500 + 262144000 - 5000} bytes with its layers exceeds the limit of 262144000 bytes"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_a_zip_over_the_direct_upload_limit" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/zip-too-large"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition     = local.errors == ["function \"cors\": zip of ${60 * 1048576} bytes exceeds the 52428800-byte limit for direct upload"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_a_manifest_from_before_routes" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/no-routes"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "manifest.json has no routes/preflight: it was written by a lambda-pack from before routes were declared in Cargo.toml; rebuild the artifacts",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_an_options_route" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/route-bad-method"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "function \"users\": method \"OPTIONS\" of /users is not one of GET POST PUT PATCH DELETE HEAD ANY (OPTIONS is generated for every path, never declared)",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_a_path_with_a_trailing_slash" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/route-bad-path"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "function \"users\": path \"/users/\" is not an API Gateway resource path (/segment/{name}/..., a final {name+}, no empty segment)",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_a_repeated_parameter" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/route-repeated-parameter"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "function \"users\": path \"/users/{id}/x/{id}\" repeats a parameter name",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_a_route_without_authorized" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/route-no-authorized"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "function \"users\": route GET /users needs authorized = true or false",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_two_functions_claiming_one_route" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/route-duplicate"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "route GET /users is declared 2 times (cors, users)",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_any_overlapping_another_functions_method" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/route-any-overlap"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "route ANY /users of function \"cors\" overlaps GET /users of \"users\"",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_two_parameters_at_one_position" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/route-parameter-clash"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "two parameters under /users/: {user_id} and {id} (API Gateway allows one per position)",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}

run "rejects_a_preflight_function_missing_from_the_manifest" {
  command = plan
  variables {
    artifacts_dir = "tests/fixtures/preflight-unknown"
  }
  expect_failures = [output.functions, output.layers, output.api]
  assert {
    condition = local.errors == [
      "preflight names \"cors\", which is not a function of the manifest",
    ]
    error_message = "got ${jsonencode(local.errors)}"
  }
}
