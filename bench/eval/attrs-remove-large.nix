# removeAttrs of 10,000 names from a 100,000-entry set.
let
  big = builtins.listToAttrs (builtins.genList (i: { name = "k${toString i}"; value = i; }) 100000);
  drop = builtins.genList (i: "k${toString (i * 10)}") 10000;
in
builtins.length (builtins.attrNames (builtins.removeAttrs big drop))
