# Deep equality of two separately built, equal trees (8-ary, depth 5) and lists.
let
  tree = depth: if depth == 0 then [ 1 "x" 2.5 null ]
    else builtins.listToAttrs (builtins.genList (i: { name = "k${toString i}"; value = tree (depth - 1); }) 8);
in
(tree 5 == tree 5) && (builtins.genList (i: { a = i; }) 50000 == builtins.genList (i: { a = i; }) 50000)
