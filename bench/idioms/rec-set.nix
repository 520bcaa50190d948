# Building `rec { x = i; y = x + 1; }` and selecting `y` each step.
let N = 100000; in builtins.foldl' (a: i: a + (rec { x = i; y = x + 1; }).y) 0 (builtins.genList (i: i) N)
