# A variable found through `with` each step.
let N = 100000; in let s = { x = 1; z = 2; }; in builtins.foldl' (a: i: a + (with s; x)) 0 (builtins.genList (i: i) N)
