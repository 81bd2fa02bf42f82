locals {
  decoded = try(jsondecode(var.schema_json), null)
  raw     = try(local.decoded.tables, {})

  key_types         = ["S", "N", "B"]
  projection_types  = ["ALL", "KEYS_ONLY", "INCLUDE"]
  stream_view_types = ["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]

  # Per table, every attribute a key or an index uses, in declaration order.
  key_attributes = {
    for name, t in local.raw : name => [
      for k in concat(
        [try(t.hash_key, null), try(t.range_key, null)],
        flatten([for g in try(t.global_secondary_indexes, []) : [try(g.hash_key, null), try(g.range_key, null)]]),
      ) : k if k != null
    ]
  }

  declared = { for name, t in local.raw : name => try(keys(t.attributes), []) }

  errors = concat(
    local.decoded == null ? [] : (
      try(local.decoded.schema_version, null) == 1 ? [] : ["schema_version must be 1"]
    ),
    local.decoded == null || try(length(keys(local.raw)), 0) > 0 ? [] : ["the schema defines no tables"],
    [for name in var.required_tables : "table \"${name}\" is required but not defined" if !contains(keys(local.raw), name)],
    [for name in keys(local.raw) : "table \"${name}\": logical names are lower_snake_case" if length(regexall("^[a-z][a-z0-9_]*$", name)) == 0],
    [for name, t in local.raw : "table \"${name}\": hash_key is missing" if try(t.hash_key, null) == null],
    flatten([for name, keys_used in local.key_attributes : [
      for k in distinct(keys_used) : "table \"${name}\": key attribute \"${k}\" has no type in attributes" if !contains(local.declared[name], k)
    ]]),
    flatten([for name, t in local.raw : [
      for a in local.declared[name] : "table \"${name}\": attribute \"${a}\" has type \"${t.attributes[a]}\"; key attributes are S, N or B" if !contains(local.key_types, try(t.attributes[a], ""))
    ]]),
    flatten([for name, attrs in local.declared : [
      for a in attrs : "table \"${name}\": attribute \"${a}\" is declared but no key or index uses it (DynamoDB rejects it)" if !contains(local.key_attributes[name], a)
    ]]),
    flatten([for name, t in local.raw : [
      for g in try(t.global_secondary_indexes, []) : "table \"${name}\": index \"${try(g.name, "?")}\" has projection_type \"${try(g.projection_type, "")}\"; use ALL, KEYS_ONLY or INCLUDE" if !contains(local.projection_types, try(g.projection_type, ""))
    ]]),
    flatten([for name, t in local.raw : [
      for g in try(t.global_secondary_indexes, []) : "table \"${name}\": an index has no name or no hash_key" if try(g.name, null) == null || try(g.hash_key, null) == null
    ]]),
    [for name, t in local.raw : "table \"${name}\": index names are not unique" if length(distinct([for g in try(t.global_secondary_indexes, []) : try(g.name, "")])) != length(try(t.global_secondary_indexes, []))],
    [for name, t in local.raw : "table \"${name}\": ttl_attribute \"${t.ttl_attribute}\" is a key attribute; TTL needs a plain Number attribute" if try(t.ttl_attribute, null) == null ? false : contains(local.key_attributes[name], t.ttl_attribute)],
    [for name, t in local.raw : "table \"${name}\": stream_view_type \"${t.stream_view_type}\" is not one of ${join(", ", local.stream_view_types)} (or null for no stream)" if try(t.stream_view_type, null) == null ? false : !contains(local.stream_view_types, t.stream_view_type)],
  )

  tables = {
    for name, t in local.raw : name => {
      hash_key   = try(t.hash_key, null)
      range_key  = try(t.range_key, null)
      attributes = [for a in local.declared[name] : { name = a, type = try(t.attributes[a], null) }]
      global_secondary_indexes = [
        for g in try(t.global_secondary_indexes, []) : {
          name               = try(g.name, null)
          hash_key           = try(g.hash_key, null)
          range_key          = try(g.range_key, null)
          projection_type    = try(g.projection_type, null)
          non_key_attributes = try(g.non_key_attributes, null)
        }
      ]
      ttl_attribute    = try(t.ttl_attribute, null)
      stream_view_type = try(t.stream_view_type, null)
    }
  }
}
