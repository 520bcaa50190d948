# toJSON and fromJSON of a 20,000-element structure, twice round.
let
  data = builtins.genList (i: { id = i; name = "n${toString i}"; tags = [ "a" "b" ]; nested = { ok = true; ratio = 0.5; }; }) 20000;
  once = builtins.fromJSON (builtins.toJSON data);
  twice = builtins.fromJSON (builtins.toJSON once);
in
builtins.length twice + (builtins.elemAt twice 19999).id
