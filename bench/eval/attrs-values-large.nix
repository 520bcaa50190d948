# attrNames and attrValues of a 200,000-entry set, summed.
let
  big = builtins.listToAttrs (builtins.genList (i: { name = "n${toString i}"; value = i; }) 200000);
in
builtins.foldl' (a: b: a + b) 0 (builtins.attrValues big) + builtins.length (builtins.attrNames big)
