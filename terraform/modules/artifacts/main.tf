locals {
  # AWS hard limits; a manifest may only tighten them.
  aws_max_zip_bytes      = 52428800  # 50 MB, direct upload
  aws_max_unzipped_bytes = 262144000 # 250 MB, function plus all its layers
  aws_max_layers         = 5

  dir      = var.artifacts_dir
  manifest = try(jsondecode(file("${local.dir}/manifest.json")), null)

  raw_functions       = try(local.manifest.functions, {})
  raw_layers          = try(local.manifest.layers, {})
  declared_externals  = try(local.manifest.external_layers, {})
  function_names      = try(keys(local.raw_functions), [])
  layer_names         = try(keys(local.raw_layers), [])
  declared_ext_names  = try(keys(local.declared_externals), [])
  requested_ext_names = keys(var.external_layers)

  max_zip_bytes      = min(local.aws_max_zip_bytes, try(local.manifest.limits.max_zip_bytes, local.aws_max_zip_bytes))
  max_unzipped_bytes = min(local.aws_max_unzipped_bytes, try(local.manifest.limits.max_unzipped_bytes, local.aws_max_unzipped_bytes))
  max_layers         = min(local.aws_max_layers, try(local.manifest.limits.max_layers, local.aws_max_layers))

  # Every archive the manifest names, functions and layers alike.
  archives = merge(
    { for n, f in local.raw_functions : "function \"${n}\"" => { file = try(f.file, ""), hash = try(f.base64sha256, "") } },
    { for n, l in local.raw_layers : "layer \"${n}\"" => { file = try(l.file, ""), hash = try(l.base64sha256, "") } },
  )
  present = { for k, a in local.archives : k => a.file != "" && fileexists("${local.dir}/${a.file}") }

  # Size of each external layer: the caller's figure first, then the manifest's.
  external_sizes = {
    for n in distinct(concat(local.declared_ext_names, local.requested_ext_names)) :
    n => try(coalesce(try(var.external_layers[n].unzipped_bytes, null), try(local.declared_externals[n].unzipped_bytes, null)), null)
  }

  # Per function: its own layers in manifest order, then external ones.
  function_layers = {
    for n, f in local.raw_functions : n => {
      own = try(tolist(f.layers), [])
      external = distinct(concat(
        try(tolist(f.external_layers), []),
        [for e, l in var.external_layers : e if contains(l.attach_to, n) || contains(l.attach_to, "*")],
      ))
    }
  }

  totals = {
    for n, f in local.raw_functions : n => try(f.unzipped_bytes, 0) + sum(concat([0],
      [for l in local.function_layers[n].own : try(local.raw_layers[l].unzipped_bytes, 0)],
      [for e in local.function_layers[n].external : try(local.external_sizes[e], 0) == null ? 0 : try(local.external_sizes[e], 0)],
    ))
  }

  # Routes (docs/artifacts.md: "Routes"). lambda-pack check enforces the
  # same rules; they are repeated here for manifests edited by hand.
  methods          = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "ANY"]
  has_route_keys   = local.manifest != null && can(keys(local.manifest)) && contains(try(keys(local.manifest), []), "preflight") && alltrue([for f in values(local.raw_functions) : contains(try(keys(f), []), "routes")])
  preflight        = try(local.manifest.preflight, null)
  variable_segment = "\\{([A-Za-z_][A-Za-z0-9_]*)\\+?\\}"
  route_list = flatten([
    for n, f in local.raw_functions : [
      for r in try(tolist(f.routes), []) : {
        function   = n
        method     = try(tostring(r.method), "")
        path       = try(tostring(r.path), "")
        authorized = try(tobool(r.authorized), null)
      }
    ]
  ])
  route_keys = [for r in local.route_list : "${r.method} ${r.path}"]
  route_problems = concat(
    [for r in local.route_list : "function \"${r.function}\": method \"${r.method}\" of ${r.path} is not one of ${join(" ", local.methods)} (OPTIONS is generated for every path, never declared)" if !contains(local.methods, r.method)],
    [for r in local.route_list : "function \"${r.function}\": path \"${r.path}\" is not an API Gateway resource path (/segment/{name}/..., a final {name+}, no empty segment)" if !can(regex("^(/([A-Za-z0-9._-]+|\\{[A-Za-z_][A-Za-z0-9_]*\\}))*(/\\{[A-Za-z_][A-Za-z0-9_]*\\+\\})?$", r.path)) || r.path == ""],
    [for r in local.route_list : "function \"${r.function}\": path \"${r.path}\" repeats a parameter name" if length(distinct(flatten(regexall(local.variable_segment, r.path)))) != length(regexall(local.variable_segment, r.path))],
    [for r in local.route_list : "function \"${r.function}\": route ${r.method} ${r.path} needs authorized = true or false" if r.authorized == null],
    [for k in distinct(local.route_keys) : "route ${k} is declared ${length([for x in local.route_keys : x if x == k])} times (${join(", ", distinct([for r in local.route_list : r.function if "${r.method} ${r.path}" == k]))})" if length([for x in local.route_keys : x if x == k]) > 1],
    [for r in local.route_list : "route ANY ${r.path} of function \"${r.function}\" overlaps ${join(", ", [for o in local.route_list : "${o.method} ${o.path} of \"${o.function}\"" if o.path == r.path && o.function != r.function])}" if r.method == "ANY" && length([for o in local.route_list : o if o.path == r.path && o.function != r.function]) > 0],
    [for parent, written in local.parameter_positions : "two parameters under ${parent}/: ${join(" and ", distinct(written))} (API Gateway allows one per position)" if length(distinct(written)) > 1],
    local.preflight == null ? [] : contains(local.function_names, try(tostring(local.preflight), "")) ? [] : ["preflight names \"${try(tostring(local.preflight), "?")}\", which is not a function of the manifest"],
  )
  # Per parent path, the distinct parameter segments under it.
  parameter_positions = {
    for pair in flatten([
      for r in local.route_list : [
        for i, seg in split("/", r.path) : { parent = join("/", slice(split("/", r.path), 0, i)), seg = seg }
        if i > 0 && can(regex("^${local.variable_segment}$", seg))
      ]
    ]) : pair.parent => pair.seg...
  }

  # The REST API: a resource for every prefix of every declared path, one
  # method per route, and OPTIONS to the preflight function on every path.
  route_paths = distinct([for r in local.route_list : r.path])
  api_resources = {
    for p in distinct(flatten([
      for path in local.route_paths : [for i in range(1, length(split("/", path))) : join("/", slice(split("/", path), 0, i + 1))]
      ])) : p => {
      depth     = length(split("/", p)) - 1
      parent    = length(split("/", p)) == 2 ? null : join("/", slice(split("/", p), 0, length(split("/", p)) - 1))
      path_part = element(split("/", p), length(split("/", p)) - 1)
    }
  }
  api_routes = merge(
    {
      # Grouped so that a duplicate (refused above) cannot break evaluation.
      for k, rs in { for r in local.route_list : "${r.method} ${r.path}" => r... } : k => {
        function        = rs[0].function
        method          = rs[0].method
        path            = rs[0].path
        authorized      = rs[0].authorized == true
        preflight       = false
        path_parameters = flatten(regexall(local.variable_segment, rs[0].path))
      }
    },
    local.preflight == null ? {} : {
      for path in local.route_paths : "OPTIONS ${path}" => {
        function        = tostring(local.preflight)
        method          = "OPTIONS"
        path            = path
        authorized      = false
        preflight       = true
        path_parameters = flatten(regexall(local.variable_segment, path))
      }
    },
  )

  errors = concat(
    local.manifest == null || local.has_route_keys ? [] : ["manifest.json has no routes/preflight: it was written by a lambda-pack from before routes were declared in Cargo.toml; rebuild the artifacts"],
    local.route_problems,
    [for k, a in local.archives : "${k}: ${a.file == "" ? "the manifest names no file" : "${a.file} is listed in manifest.json but missing from ${local.dir}"}" if !local.present[k]],
    [for k, a in local.archives : "${k}: ${a.file} hashes to ${filebase64sha256("${local.dir}/${a.file}")} but manifest.json says ${a.hash}; the archive and the manifest come from different builds" if local.present[k] ? filebase64sha256("${local.dir}/${a.file}") != a.hash : false],
    flatten([for n, fl in local.function_layers : [for l in fl.own : "function \"${n}\": layer \"${l}\" is not among the manifest's layers (${join(", ", local.layer_names)})" if !contains(local.layer_names, l)]]),
    flatten([for n, fl in local.function_layers : [for e in fl.external : "function \"${n}\": external layer \"${e}\" has no ARN in var.external_layers" if !contains(local.requested_ext_names, e)]]),
    flatten([for n, fl in local.function_layers : [for e in fl.external : "function \"${n}\": external layer \"${e}\" has no unzipped size (declare it in Cargo.toml's external_layers or give unzipped_bytes)" if contains(local.requested_ext_names, e) && local.external_sizes[e] == null]]),
    flatten([for e, l in var.external_layers : [for t in l.attach_to : "external layer \"${e}\": attach_to names function \"${t}\", which is not in the manifest" if t != "*" && !contains(local.function_names, t)]]),
    [for n, fl in local.function_layers : "function \"${n}\": ${length(fl.own) + length(fl.external)} layers (${length(fl.own)} built, ${length(fl.external)} external) exceed the limit of ${local.max_layers}" if length(fl.own) + length(fl.external) > local.max_layers],
    [for n, t in local.totals : "function \"${n}\": unzipped total of ${t} bytes with its layers exceeds the limit of ${local.max_unzipped_bytes} bytes" if t > local.max_unzipped_bytes],
    [for k, z in merge(
      { for n, f in local.raw_functions : "function \"${n}\"" => try(f.zip_bytes, 0) },
      { for n, l in local.raw_layers : "layer \"${n}\"" => try(l.zip_bytes, 0) },
    ) : "${k}: zip of ${z} bytes exceeds the ${local.max_zip_bytes}-byte limit for direct upload" if z > local.max_zip_bytes],
  )

  functions = {
    for n, f in local.raw_functions : n => {
      filename                = "${local.dir}/${try(f.file, "")}"
      source_code_hash        = try(f.base64sha256, null)
      architectures           = [try(f.architecture, "arm64")]
      runtime                 = try(f.runtime, "provided.al2023")
      handler                 = try(f.handler, "bootstrap")
      memory_size             = try(f.memory_mb, 128)
      timeout                 = try(f.timeout_s, 3)
      routes                  = [for r in local.route_list : { method = r.method, path = r.path, authorized = r.authorized } if r.function == n]
      layers                  = local.function_layers[n].own
      external_layers         = local.function_layers[n].external
      external_layer_arns     = [for e in local.function_layers[n].external : try(var.external_layers[e].arn, null)]
      zip_bytes               = try(f.zip_bytes, null)
      unzipped_bytes          = try(f.unzipped_bytes, null)
      total_unzipped_bytes    = local.totals[n]
      unzipped_headroom_bytes = local.max_unzipped_bytes - local.totals[n]
    }
  }

  layers = {
    for n, l in local.raw_layers : n => {
      filename                 = "${local.dir}/${try(l.file, "")}"
      source_code_hash         = try(l.base64sha256, null)
      kind                     = try(l.kind, null)
      compatible_architectures = try(tolist(l.compatible_architectures), ["arm64"])
      compatible_runtimes      = try(tolist(l.compatible_runtimes), ["provided.al2023"])
      zip_bytes                = try(l.zip_bytes, null)
      unzipped_bytes           = try(l.unzipped_bytes, null)
    }
  }

  error_message = "The artifacts in ${local.dir} failed validation:\n  - ${join("\n  - ", local.errors)}"
}
