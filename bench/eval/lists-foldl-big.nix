# foldl' over a list of 1,000,000 numbers.
builtins.foldl' (acc: x: acc + x * 2) 0 (builtins.genList (i: i) 1000000)
