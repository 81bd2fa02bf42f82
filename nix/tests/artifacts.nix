# The pure helpers against the fixture workspaces in ./fixtures:
#   five/     five functions, the telemetry extension layer, a shared library
#   six/      the same plus a sixth function, with no Nix edit anywhere
#   invalid-* one defect each in the declaration; every one must throw
let
  forge = import ../lib;
  t = import ./lib.nix;
  load = name: forge.artifacts.load (./fixtures + "/${name}");
  five = load "five";
  six = load "six";
  artifactNames = set: map (a: a.name) set.artifacts;
  outputs = set: canBoot: forge.names.outputs { inherit set canBoot; };
  invalid = [
    "bad-architecture"
    "bad-kind"
    "bad-name"
    "clash-with-external"
    "duplicate-name"
    "function-as-layer"
    "layer-listed-twice"
    "layer-with-memory"
    "memory-out-of-range"
    "missing-budget"
    "preflight-not-a-function"
    "preflight-unknown"
    "route-any-overlap"
    "route-bad-parameter"
    "route-duplicate"
    "route-greedy-not-last"
    "route-lower-case-method"
    "route-missing-authorized"
    "route-on-layer"
    "route-options-method"
    "route-parameter-clash"
    "route-repeated-parameter"
    "route-root-path"
    "route-trailing-slash"
    "route-unknown-key"
    "timeout-out-of-range"
    "too-many-layers"
    "unknown-key"
    "unknown-layer"
    "zero-budget"
  ];
  rejects = builtins.listToAttrs (
    map (n: {
      name = "rejects_${n}";
      value = {
        actual = t.throws (load "invalid-${n}").declaration;
        expected = true;
      };
    }) invalid
  );
in
t.run "artifacts" (
  rejects
  // {
    reads_functions_and_layers_sorted_by_name = {
      actual = artifactNames five;
      expected = [
        "auth"
        "authorizer"
        "cors"
        "sms"
        "telemetry"
        "users"
      ];
    };

    splits_functions_from_extension_layers = {
      actual = {
        functions = map (a: a.name) five.functions;
        layers = map (a: a.name) five.layers;
      };
      expected = {
        functions = [
          "auth"
          "authorizer"
          "cors"
          "sms"
          "users"
        ];
        layers = [ "telemetry" ];
      };
    };

    reads_routes_in_declaration_order_and_the_preflight_function = {
      actual = {
        users = five.byName.users.routes;
        preflight = map (a: a.name) (builtins.filter (a: a.preflight) five.declaration);
        telemetry = five.byName.telemetry.routes;
      };
      expected = {
        users = [
          {
            method = "GET";
            path = "/users/me";
            authorized = true;
          }
          {
            method = "PATCH";
            path = "/users/{id}";
            authorized = true;
          }
          {
            method = "DELETE";
            path = "/users/{id}";
            authorized = true;
          }
        ];
        preflight = [ "cors" ];
        telemetry = [ ];
      };
    };

    a_function_may_combine_any_and_get_on_a_greedy_path = {
      actual = map (r: "${r.method} ${r.path}") six.byName.billing.routes;
      expected = [
        "GET /billing/invoices/{invoice_id}"
        "ANY /billing/files/{rest+}"
        "GET /billing/files/{rest+}"
      ];
    };

    a_sixth_function_crate_appears_without_nix_edits = {
      actual = builtins.filter (n: !(builtins.elem n (artifactNames five))) (artifactNames six);
      expected = [ "billing" ];
    };

    a_sixth_function_gets_its_package_and_checks = {
      actual =
        let
          o = outputs six true;
        in
        {
          package = builtins.elem "billing" o.packages;
          checks = builtins.filter (c: builtins.match "billing.*" c != null) o.checks;
        };
      expected = {
        package = true;
        checks = [
          "billing"
          "billing-lambda-pack-check"
          "billing-reproducible"
        ];
      };
    };

    declaration_matches_the_lambda_pack_listing_fields = {
      actual = builtins.head (builtins.filter (a: a.name == "telemetry") five.declaration);
      expected = {
        name = "telemetry";
        kind = "extension";
        package = "telemetry-extension";
        binary = "telemetry-extension";
        memory_mb = null;
        timeout_s = null;
        layers = [ ];
        routes = [ ];
        preflight = false;
        budget = {
          zip_bytes = 1048576;
          unzipped_bytes = 3145728;
        };
      };
    };

    keeps_declared_layer_order_including_external_layers = {
      actual = five.byName.auth.layers;
      expected = [
        "telemetry"
        "vendor-observability"
      ];
    };

    reads_workspace_settings = {
      actual = {
        inherit (five.workspace)
          target
          architecture
          runtime
          handler
          limits
          external_layers
          ;
      };
      expected = {
        target = "aarch64-unknown-linux-musl";
        architecture = "arm64";
        runtime = "provided.al2023";
        handler = "bootstrap";
        limits = {
          max_zip_bytes = 52428800;
          max_unzipped_bytes = 262144000;
          max_layers = 5;
        };
        external_layers.vendor-observability.unzipped_bytes = 83886080;
      };
    };

    skips_directories_without_cargo_toml_and_library_crates = {
      actual = five.crates;
      expected = [
        "crates/auth"
        "crates/authorizer"
        "crates/cors"
        "crates/shared"
        "crates/sms"
        "crates/telemetry-extension"
        "crates/users"
      ];
    };

    crate_source_closure_follows_workspace_and_relative_path_dependencies = {
      actual = map five.closureOf [
        "crates/sms"
        "crates/users"
        "crates/cors"
      ];
      expected = [
        [
          "crates/shared"
          "crates/sms"
        ]
        [
          "crates/shared"
          "crates/users"
        ]
        [ "crates/cors" ]
      ];
    };

    boot_checks_only_where_the_machine_can_run_the_binary = {
      actual =
        let
          withSmoke = five // {
            artifacts = map (a: a // { hasSmoke = true; }) five.artifacts;
          };
        in
        {
          linux = (outputs withSmoke true).byArtifact.cors.boot;
          darwin = (outputs withSmoke false).byArtifact.cors.boot;
          noSmokeFile = (outputs five true).byArtifact.cors.boot;
        };
      expected = {
        linux = "cors-boot";
        darwin = null;
        noSmokeFile = null;
      };
    };

    reserves_default_for_the_whole_set = {
      actual = t.throws (
        (outputs (
          five
          // {
            artifacts = five.artifacts ++ [ (five.byName.cors // { name = "default"; }) ];
          }
        ) true).packages
      );
      expected = true;
    };

    packages_are_every_artifact_plus_default_and_the_host_tools = {
      actual = (outputs five true).packages;
      expected = [
        "auth"
        "authorizer"
        "cors"
        "sms"
        "telemetry"
        "users"
        "default"
        "lambda-pack"
        "lambda-emulator"
      ];
    };
  }
)
