# mapAttrsRecursive (written out): a function applied to every leaf of a 7-ary tree of depth 6.
let
  mapRecursive = f: set:
    let
      go = path: set: builtins.mapAttrs (name: value:
        if builtins.isAttrs value then go (path ++ [ name ]) value else f (path ++ [ name ]) value) set;
    in go [ ] set;
  tree = depth: if depth == 0 then 1
    else builtins.listToAttrs (builtins.genList (i: { name = "a${toString i}"; value = tree (depth - 1); }) 7);
  mapped = mapRecursive (path: v: v + builtins.length path) (tree 6);
  sum = v: if builtins.isAttrs v then builtins.foldl' (a: b: a + sum b) 0 (builtins.attrValues v) else v;
in
sum mapped
