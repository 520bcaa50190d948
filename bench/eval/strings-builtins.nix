# substring, stringLength, replaceStrings, splitVersion and toString over 50,000 strings.
let
  s = i: "component-${toString i}-eu-west-1";
  one = i: let x = s i; in
    builtins.stringLength (builtins.replaceStrings [ "-" "eu" ] [ "_" "EU" ] x)
    + builtins.stringLength (builtins.substring 3 7 x)
    + builtins.length (builtins.splitVersion "1.${toString i}.3");
in
builtins.foldl' (a: i: a + one i) 0 (builtins.genList (i: i) 50000)
