variable "artifacts_dir" {
  description = "Directory holding manifest.json and the archives it lists (the flake's result/ or `cargo xtask dist`'s dist/). Give a path relative to the working directory so the `filename` stored in state is the same on every machine."
  type        = string

  validation {
    condition     = fileexists("${var.artifacts_dir}/manifest.json")
    error_message = "No manifest.json in artifacts_dir \"${var.artifacts_dir}\": build the artifacts first (`nix build` for result/, or `cargo xtask dist` for dist/)."
  }

  validation {
    condition     = !fileexists("${var.artifacts_dir}/manifest.json") || can(jsondecode(file("${var.artifacts_dir}/manifest.json")))
    error_message = "${var.artifacts_dir}/manifest.json is not valid JSON."
  }

  validation {
    condition     = try(jsondecode(file("${var.artifacts_dir}/manifest.json")).schema_version, 1) == 1
    error_message = "${var.artifacts_dir}/manifest.json has a schema_version this module does not understand (expected 1, see docs/artifacts.md)."
  }
}

variable "external_layers" {
  description = "Layers attached by ARN (not built here), by the name functions use in the manifest's `external_layers`. `unzipped_bytes` overrides the size declared in the manifest and counts against the 250 MB limit; `attach_to` attaches the layer to more functions (\"*\" for all) than the manifest lists."
  type = map(object({
    arn            = string
    unzipped_bytes = optional(number)
    attach_to      = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for l in values(var.external_layers) : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", l.arn))])
    error_message = "Every external layer needs a versioned layer ARN (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }

  validation {
    condition     = alltrue([for l in values(var.external_layers) : l.unzipped_bytes == null ? true : l.unzipped_bytes >= 0])
    error_message = "External layer unzipped_bytes must not be negative."
  }
}
