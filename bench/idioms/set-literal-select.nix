# Building a two-attribute set literal and selecting from it each step.
let N = 100000; in builtins.foldl' (a: i: a + { x = i; y = 2; }.x) 0 (builtins.genList (i: i) N)
