# Calling a two-argument curried function `f i 1` each step.
let N = 100000; in let f = x: y: x + y; in builtins.foldl' (a: i: a + f i 1) 0 (builtins.genList (i: i) N)
