# attrValues of a small set in a 300,000-iteration loop.
let
  s = { alpha = 1; beta = 2; gamma = 3; delta = 4; };
in
builtins.foldl' (acc: i: acc + builtins.length (builtins.attrValues s)) 0 (builtins.genList (i: i) 300000)
