# A fold adding the elements of genList (i: i): the loop every other program here adds one idiom to.
let N = 100000; in builtins.foldl' (a: i: a + i) 0 (builtins.genList (i: i) N)
