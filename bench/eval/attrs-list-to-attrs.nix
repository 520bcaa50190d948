# listToAttrs of 100,000 entries (with repeated names: the first wins), then lookups.
let
  entries = builtins.genList (i: { name = "k${toString (i / 2)}"; value = i; }) 100000;
  set = builtins.listToAttrs entries;
in
set.k0 + set.k49999 + builtins.length (builtins.attrNames set)
