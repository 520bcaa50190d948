# String interpolation in a loop: 200,000 small strings, joined.
let
  line = i: "resource-${toString i}: ${if i / 2 * 2 == i then "even" else "odd"} (${toString (i * 3)})";
in
builtins.stringLength (builtins.concatStringsSep "\n" (builtins.genList line 200000))
