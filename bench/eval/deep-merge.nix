# Hierarchical config layering: defaults // env // cluster, recursively, over thousands of keys.
let
  recursiveUpdate = lhs: rhs:
    lhs // builtins.mapAttrs (name: value:
      if builtins.isAttrs value && lhs ? ${name} && builtins.isAttrs lhs.${name}
      then recursiveUpdate lhs.${name} value
      else value) rhs;
  layer = tag: n: builtins.listToAttrs (builtins.genList (i: {
    name = "component${toString i}";
    value = { inputs = { size = i; tag = tag; }; settings.region = "eu-${tag}"; };
  }) n);
  merged = builtins.foldl' recursiveUpdate { } [ (layer "defaults" 3000) (layer "env" 2000) (layer "cluster" 1000) ];
in
builtins.length (builtins.attrNames merged) + merged.component42.inputs.size
