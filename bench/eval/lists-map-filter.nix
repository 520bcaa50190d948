# genList, map, filter, elemAt, length over 300,000 elements.
let
  xs = builtins.genList (i: i * 3) 300000;
  ys = builtins.filter (x: x / 2 * 2 == x) (map (x: x + 1) xs);
in
builtins.length ys + builtins.elemAt ys 1000
