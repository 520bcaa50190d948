# removeAttrs of one or two names from a small set, 200,000 times.
let
  s = { a = 1; b = 2; c = 3; d = 4; e = 5; };
in
builtins.foldl' (acc: i: acc + builtins.length (builtins.attrNames (builtins.removeAttrs s [ "b" "e" ]))) 0
  (builtins.genList (i: i) 200000)
