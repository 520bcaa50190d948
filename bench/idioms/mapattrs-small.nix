# `mapAttrs` over a two-attribute set, one result selected, each step.
let N = 100000; in builtins.foldl' (a: i: a + (builtins.mapAttrs (k: v: v + i) { x = 1; y = 2; }).y) 0 (builtins.genList (i: i) N)
