# Calls through set patterns with defaults, @-bindings and functors, 200,000 times.
let
  f = { a, b ? 2, ... }@args: a + b + builtins.length (builtins.attrNames args);
  functor = { __functor = self: x: x + self.k; k = 3; };
in
builtins.foldl' (acc: i: acc + f { a = i; c = 1; } + functor i) 0 (builtins.genList (i: i) 200000)
