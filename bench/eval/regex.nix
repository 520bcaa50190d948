# builtins.match and builtins.split over 30,000 strings.
let
  s = i: "svc-${toString i}.eu-west-${toString (i - i / 3 * 3)}.example.com";
  matched = i: builtins.match "svc-([0-9]+)\\.([a-z]+)-([a-z]+)-([0-9])\\..*" (s i);
  parts = i: builtins.length (builtins.split "[.-]" (s i));
in
builtins.foldl' (a: i: a + builtins.length (matched i) + parts i) 0 (builtins.genList (i: i) 30000)
