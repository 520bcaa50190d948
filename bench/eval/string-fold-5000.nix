# The quadratic idiom: a fold that keeps appending to one string (n = 5000).
builtins.stringLength (builtins.foldl' (acc: i: acc + "item-${toString i},") "" (builtins.genList (i: i) 5000))
