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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
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
  expect_failures = [output.functions, output.layers]
  assert {
    condition     = local.errors == ["function \"cors\": zip of ${60 * 1048576} bytes exceeds the 52428800-byte limit for direct upload"]
    error_message = "got ${jsonencode(local.errors)}"
  }
}
