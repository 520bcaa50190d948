# Calling a one-argument function `f i` each step.
let N = 100000; in let f = x: x + 1; in builtins.foldl' (a: i: a + f i) 0 (builtins.genList (i: i) N)
