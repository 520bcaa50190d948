# Selecting an attribute of a small set held in a variable each step.
let N = 100000; in let s = { x = 1; y = 2; z = 3; }; in builtins.foldl' (a: i: a + s.y) 0 (builtins.genList (i: i) N)
