# A recursive merge of five layered 6-ary trees (depth 4) for each of 48 clusters.
let
  merge = a: b: a // builtins.mapAttrs (k: v:
    if builtins.isAttrs v && a ? ${k} && builtins.isAttrs a.${k} then merge a.${k} v else v) b;
  tree = depth: tag:
    if depth == 0 then tag
    else builtins.listToAttrs (builtins.genList (i: { name = "n${toString i}"; value = tree (depth - 1) tag; }) 6);
  cluster = c: builtins.foldl' merge { } (builtins.genList (l: tree 4 "c${toString c}-l${toString l}") 5);
  clusters = builtins.genList cluster 48;
in
builtins.deepSeq clusters (builtins.length clusters)
