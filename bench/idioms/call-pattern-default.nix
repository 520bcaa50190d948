# Calling `{ x, y ? 1 }: x + y` with a one-attribute set each step.
let N = 100000; in let f = { x, y ? 1 }: x + y; in builtins.foldl' (a: i: a + f { x = i; }) 0 (builtins.genList (i: i) N)
