# The quadratic idiom: a fold that keeps updating one set (n = 20000).
builtins.length (builtins.attrNames (builtins.foldl' (acc: i: acc // { "k${toString i}" = i; }) { } (builtins.genList (i: i) 20000)))
