# concatMap, concatLists and ++ building a 1,200,000-element list.
let
  chunks = builtins.genList (i: [ i (i + 1) ]) 300000;
  flat = builtins.concatLists chunks;
  doubled = builtins.concatMap (x: [ x x ]) flat;
in
builtins.length (doubled ++ flat)
