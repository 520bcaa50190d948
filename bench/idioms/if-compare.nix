# An `if` on an integer comparison each step.
let N = 100000; in builtins.foldl' (a: i: if i < 500000 then a + 1 else a - 1) 0 (builtins.genList (i: i) N)
