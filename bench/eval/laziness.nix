# A huge structure of which a small part is forced.
let
  big = builtins.listToAttrs (builtins.genList (i: { name = "k${toString i}"; value = { expensive = builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x) 10000); index = i; }; }) 50000);
in
big.k49999.index + big.k7.index
