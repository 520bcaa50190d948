# Building a two-element list literal and taking its length each step.
let N = 100000; in builtins.foldl' (a: i: a + builtins.length [ i i ]) 0 (builtins.genList (i: i) N)
