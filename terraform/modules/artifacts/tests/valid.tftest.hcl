# A well-formed artifacts directory: what the root module receives.

variables {
  artifacts_dir = "tests/fixtures/valid"
}

run "passes_every_validation" {
  command = plan

  assert {
    condition     = length(local.errors) == 0
    error_message = "unexpected errors: ${jsonencode(local.errors)}"
  }
}

run "exposes_function_settings_from_the_manifest" {
  command = plan

  assert {
    condition     = jsonencode(keys(output.functions)) == jsonencode(["cors", "users"])
    error_message = "functions: ${jsonencode(keys(output.functions))}"
  }
  assert {
    condition = jsonencode(output.functions.users) == jsonencode({
      filename         = "tests/fixtures/valid/users.zip"
      source_code_hash = "wR9kzxUMp9TVMWHnqEZ5BR3q1qq2C0rDfcNmOLgnt9M="
      architectures    = ["arm64"]
      runtime          = "provided.al2023"
      handler          = "bootstrap"
      memory_size      = 256
      timeout          = 10
      routes = [
        { method = "GET", path = "/users/me", authorized = true },
        { method = "PATCH", path = "/users/{id}", authorized = true },
        { method = "GET", path = "/users/{id}/files/{rest+}", authorized = true },
        { method = "POST", path = "/hooks/inbound", authorized = false },
      ]
      layers                  = ["telemetry"]
      external_layers         = []
      external_layer_arns     = []
      zip_bytes               = 1000
      unzipped_bytes          = 5000
      total_unzipped_bytes    = 6500
      unzipped_headroom_bytes = 262144000 - 6500
    })
    error_message = "users: ${jsonencode(output.functions.users)}"
  }
}

run "source_code_hash_is_the_archive_hash" {
  command = plan

  assert {
    condition     = alltrue([for f in values(output.functions) : f.source_code_hash == filebase64sha256(f.filename)])
    error_message = "a function's source_code_hash differs from filebase64sha256 of its zip"
  }
  assert {
    condition     = alltrue([for l in values(output.layers) : l.source_code_hash == filebase64sha256(l.filename)])
    error_message = "a layer's source_code_hash differs from filebase64sha256 of its zip"
  }
}

run "exposes_layer_settings_from_the_manifest" {
  command = plan

  assert {
    condition = jsonencode(output.layers) == jsonencode({
      telemetry = {
        filename                 = "tests/fixtures/valid/telemetry.zip"
        source_code_hash         = "W5+9Fl4DVJy9ojm2N/r4ulg2DQ4sfRtDymm+O0u6VrA="
        kind                     = "extension"
        compatible_architectures = ["arm64"]
        compatible_runtimes      = ["provided.al2023"]
        zip_bytes                = 500
        unzipped_bytes           = 1500
      }
    })
    error_message = "layers: ${jsonencode(output.layers)}"
  }
  assert {
    condition     = output.limits == { max_zip_bytes = 52428800, max_unzipped_bytes = 262144000, max_layers = 5 }
    error_message = "limits: ${jsonencode(output.limits)}"
  }
}

run "attaches_an_external_layer_to_every_function_and_counts_its_size" {
  command = plan

  variables {
    external_layers = {
      vendor-observability = {
        arn       = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7"
        attach_to = ["*"]
      }
    }
  }

  assert {
    condition     = jsonencode([output.functions.cors.layers, output.functions.cors.external_layer_arns]) == jsonencode([["telemetry"], ["arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7"]])
    error_message = "cors: ${jsonencode(output.functions.cors)}"
  }
  assert {
    # 3000 (function) + 1500 (telemetry) + 80 MiB declared in the manifest
    condition     = output.functions.cors.total_unzipped_bytes == 3000 + 1500 + 83886080
    error_message = "cors total: ${output.functions.cors.total_unzipped_bytes}"
  }
}

run "external_layer_from_the_manifest_gets_its_arn_from_the_input" {
  command = plan

  variables {
    artifacts_dir = "tests/fixtures/external"
    external_layers = {
      vendor-observability = {
        arn            = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7"
        unzipped_bytes = 90000000
      }
    }
  }

  assert {
    condition     = jsonencode([output.functions.sms.external_layers, output.functions.sms.external_layer_arns]) == jsonencode([["vendor-observability"], ["arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7"]])
    error_message = "sms: ${jsonencode(output.functions.sms)}"
  }
  assert {
    # The caller's size wins over the manifest's declaration.
    condition     = output.functions.sms.total_unzipped_bytes == 3000 + 1500 + 90000000
    error_message = "sms total: ${output.functions.sms.total_unzipped_bytes}"
  }
}

run "builds_the_resource_tree_and_one_method_per_route_plus_preflights" {
  command = plan

  assert {
    condition = jsonencode(output.api.resources) == jsonencode({
      "/hooks"                    = { depth = 1, parent = null, path_part = "hooks" }
      "/hooks/inbound"            = { depth = 2, parent = "/hooks", path_part = "inbound" }
      "/users"                    = { depth = 1, parent = null, path_part = "users" }
      "/users/me"                 = { depth = 2, parent = "/users", path_part = "me" }
      "/users/{id}"               = { depth = 2, parent = "/users", path_part = "{id}" }
      "/users/{id}/files"         = { depth = 3, parent = "/users/{id}", path_part = "files" }
      "/users/{id}/files/{rest+}" = { depth = 4, parent = "/users/{id}/files", path_part = "{rest+}" }
    })
    error_message = "resources: ${jsonencode(output.api.resources)}"
  }
  assert {
    condition     = output.api.max_depth == 4 && output.api.preflight == "cors"
    error_message = "max_depth ${output.api.max_depth}, preflight ${jsonencode(output.api.preflight)}"
  }
  assert {
    # 4 declared routes + OPTIONS on each of the 4 declared paths (not on /users or /hooks).
    condition = sort(keys(output.api.routes)) == sort([
      "GET /users/me", "PATCH /users/{id}", "GET /users/{id}/files/{rest+}", "POST /hooks/inbound",
      "OPTIONS /users/me", "OPTIONS /users/{id}", "OPTIONS /users/{id}/files/{rest+}", "OPTIONS /hooks/inbound",
    ])
    error_message = "routes: ${jsonencode(keys(output.api.routes))}"
  }
  assert {
    condition = output.api.routes["GET /users/{id}/files/{rest+}"] == {
      function        = "users", method = "GET", path = "/users/{id}/files/{rest+}", authorized = true, preflight = false,
      path_parameters = ["id", "rest"]
    }
    error_message = jsonencode(output.api.routes["GET /users/{id}/files/{rest+}"])
  }
  assert {
    condition     = output.api.routes["OPTIONS /hooks/inbound"].function == "cors" && !output.api.routes["OPTIONS /hooks/inbound"].authorized && !output.api.routes["POST /hooks/inbound"].authorized
    error_message = "preflights go to the preflight function, unauthenticated"
  }
}

run "a_manifest_without_preflight_gets_no_options_methods" {
  command = plan

  variables {
    artifacts_dir = "tests/fixtures/external"
    external_layers = {
      vendor-observability = { arn = "arn:aws:lambda:eu-west-1:123456789012:layer:vendor-observability:7" }
    }
  }

  assert {
    condition     = output.api.preflight == null && length(output.api.routes) == 0 && length(output.api.resources) == 0
    error_message = jsonencode(output.api)
  }
}
