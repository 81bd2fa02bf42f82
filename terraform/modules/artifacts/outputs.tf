output "functions" {
  description = "Per function: filename, source_code_hash, architectures, runtime, handler, memory_size, timeout, layers (names of built layers, in order), external_layers and external_layer_arns, zip_bytes, unzipped_bytes, total_unzipped_bytes, unzipped_headroom_bytes."
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
