# `s ? y` on a small set each step.
let N = 100000; in let s = { x = 1; y = 2; z = 3; }; in builtins.foldl' (a: i: if s ? y then a + 1 else a) 0 (builtins.genList (i: i) N)
