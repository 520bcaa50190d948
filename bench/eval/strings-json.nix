# Heavy string building and toJSON of a large structure.
let
  items = builtins.genList (i: {
    name = "svc-${toString i}";
    labels = { team = "t${toString (i - (i / 10) * 10)}"; env = "prod"; };
    ports = [ (8000 + i) (9000 + i) ];
    description = "service ${toString i} in ${if i / 2 * 2 == i then "even" else "odd"} ring";
  }) 20000;
in
builtins.stringLength (builtins.toJSON items)
