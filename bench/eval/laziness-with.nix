# `with` scopes and `let` chains resolved 300,000 times.
let
  scope = { x = 1; y = 2; z = 3; };
  step = i: with scope; let a = x + i; b = a + y; in b + z;
in
builtins.foldl' (acc: i: acc + step i) 0 (builtins.genList (i: i) 300000)
