# `attrNames` of a small set and its length each step.
let N = 100000; in let s = { x = 1; y = 2; z = 3; }; in builtins.foldl' (a: i: a + builtins.length (builtins.attrNames s)) 0 (builtins.genList (i: i) N)
