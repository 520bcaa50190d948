# Comparing two freshly built two-attribute sets with `==` each step.
let N = 100000; in builtins.foldl' (a: i: if { x = i; y = "a"; } == { x = i; y = "a"; } then a + 1 else a) 0 (builtins.genList (i: i) N)
