# flake.lock against flake.nix: every input locked to a full revision with a
# narHash and lastModified, crane on its tag's commit, rust-overlay following
# our nixpkgs, advisory-db as plain source, and nothing else in the graph.
let
  t = import ./lib.nix;
  flake = import ../../flake.nix;
  lock = builtins.fromJSON (builtins.readFile ../../flake.lock);
  inputNames = builtins.attrNames flake.inputs;

  # "github:owner/repo" or "github:owner/repo/ref"
  parseUrl =
    url:
    let
      m = builtins.match "github:([^/]+)/([^/]+)(/(.+))?" url;
    in
    {
      type = "github";
      owner = builtins.elemAt m 0;
      repo = builtins.elemAt m 1;
    }
    // (if builtins.elemAt m 3 == null then { } else { ref = builtins.elemAt m 3; });

  urlOf = name: flake.inputs.${name}.url or flake.inputs.${name};
  node = name: lock.nodes.${lock.nodes.root.inputs.${name}};
  lockedWell =
    l:
    builtins.match "[0-9a-f]{40}" l.rev != null
    && builtins.match "sha256-[A-Za-z0-9+/]{43}=" l.narHash != null
    && builtins.isInt l.lastModified
    && l.lastModified > 0;
in
t.run "flake-lock" {
  lock_is_version_7_rooted_at_root = {
    actual = {
      inherit (lock) version root;
    };
    expected = {
      version = 7;
      root = "root";
    };
  };

  every_flake_input_is_a_root_input_of_the_lock = {
    actual = builtins.attrNames lock.nodes.root.inputs;
    expected = inputNames;
  };

  no_other_nodes_than_the_inputs = {
    actual = builtins.attrNames lock.nodes;
    expected = builtins.sort builtins.lessThan (inputNames ++ [ "root" ]);
  };

  originals_match_the_flake_urls = {
    actual = map (n: (node n).original) inputNames;
    expected = map (n: parseUrl (urlOf n)) inputNames;
  };

  every_input_has_rev_narhash_and_lastmodified = {
    actual = map (n: lockedWell (node n).locked) inputNames;
    expected = map (_: true) inputNames;
  };

  locked_sources_are_the_original_repositories = {
    actual = map (
      n:
      let
        l = (node n).locked;
      in
      {
        inherit (l) type owner repo;
      }
    ) inputNames;
    expected = map (
      n:
      let
        o = (node n).original;
      in
      {
        inherit (o) type owner repo;
      }
    ) inputNames;
  };

  crane_is_the_v0_23_4_tag_commit = {
    actual = {
      inherit ((node "crane").locked) rev narHash;
      inherit ((node "crane").original) ref;
    };
    expected = {
      rev = "10e6e3cb966f7cfcc789fe5eee7a85f3188ce08b";
      narHash = "sha256-nnGD2f8OlAZT2i5OfwikJsw+ifWfiA4d6A8BWlgOXV0=";
      ref = "v0.23.4";
    };
  };

  rust_overlay_follows_our_nixpkgs = {
    actual = {
      lock = (node "rust-overlay").inputs;
      flake = flake.inputs.rust-overlay.inputs.nixpkgs.follows;
    };
    expected = {
      lock.nixpkgs = [ "nixpkgs" ];
      flake = "nixpkgs";
    };
  };

  advisory_db_is_plain_source = {
    actual = {
      lock = (node "advisory-db").flake;
      flake = flake.inputs.advisory-db.flake;
    };
    expected = {
      lock = false;
      flake = false;
    };
  };

  no_flake_utils = {
    actual = builtins.elem "flake-utils" inputNames;
    expected = false;
  };
}
