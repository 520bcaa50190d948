# Making and forcing 100,000 genList elements (no fold).
let N = 100000; in builtins.deepSeq (builtins.genList (i: i) N) 1
