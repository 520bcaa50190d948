# Building and reading back a 100,000-entry attribute set.
let
  set = builtins.listToAttrs (builtins.genList (i: { name = "key${toString i}"; value = i; }) 100000);
in
builtins.foldl' (acc: name: acc + set.${name}) 0 (builtins.attrNames set)
