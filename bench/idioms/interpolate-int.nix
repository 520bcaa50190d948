# Interpolating an integer into a string and taking its length each step.
let N = 100000; in builtins.foldl' (a: i: a + builtins.stringLength "k${toString i}") 0 (builtins.genList (i: i) N)
