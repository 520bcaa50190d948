# A `let` of two bindings, one using the other, each step.
let N = 100000; in builtins.foldl' (a: i: let b = i + 1; c = b * 2; in a + c) 0 (builtins.genList (i: i) N)
