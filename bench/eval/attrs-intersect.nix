# intersectAttrs: small with large and large with large.
let
  make = n: step: builtins.listToAttrs (builtins.genList (i: { name = "k${toString (i * step)}"; value = i; }) n);
  large = make 100000 1;
  other = make 50000 2;
  small = make 20 7;
in
builtins.length (builtins.attrNames (builtins.intersectAttrs small large))
+ builtins.length (builtins.attrNames (builtins.intersectAttrs other large))
+ builtins.length (builtins.attrNames (builtins.intersectAttrs large other))
