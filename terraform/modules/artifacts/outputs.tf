output "functions" {
  description = "Per function: filename, source_code_hash, architectures, runtime, handler, memory_size, timeout, routes (declared, [{method, path, authorized}]), layers (names of built layers, in order), external_layers and external_layer_arns, zip_bytes, unzipped_bytes, total_unzipped_bytes, unzipped_headroom_bytes."
  value       = local.functions

  precondition {
    condition     = length(local.errors) == 0
    error_message = local.error_message
  }
}

output "layers" {
  description = "Per built layer: filename, source_code_hash, kind, compatible_architectures, compatible_runtimes, zip_bytes, unzipped_bytes."
  value       = local.layers

  precondition {
    condition     = length(local.errors) == 0
    error_message = local.error_message
  }
}

output "limits" {
  description = "The limits the artifacts were checked against: max_zip_bytes, max_unzipped_bytes, max_layers (AWS's, or the manifest's when tighter)."
  value = {
    max_zip_bytes      = local.max_zip_bytes
    max_unzipped_bytes = local.max_unzipped_bytes
    max_layers         = local.max_layers
  }
}

output "api" {
  description = "The REST API the routes describe: `resources` (every prefix of every declared path => {depth, parent, path_part}), `routes` (\"METHOD /path\" => {function, method, path, authorized, preflight, path_parameters}, OPTIONS to the preflight function included), `preflight` (function name or null), `max_depth`."
  value = {
    resources = local.api_resources
    routes    = local.api_routes
    preflight = local.preflight
    max_depth = max(0, [for r in values(local.api_resources) : r.depth]...)
  }

  precondition {
    condition     = length(local.errors) == 0
    error_message = local.error_message
  }
}
