# `{ x = i; } // { y = 1; }` and a selection each step.
let N = 100000; in builtins.foldl' (a: i: a + ({ x = i; } // { y = 1; }).x) 0 (builtins.genList (i: i) N)
