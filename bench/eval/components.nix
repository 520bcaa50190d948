# Generating and serialising thousands of component-like sets (what `infra build` will do).
let
  stacks = [ "dev" "staging" "prod" "dr" "sandbox" ];
  component = stack: i: {
    address = "${stack}/c${toString i}";
    backend = { type = "s3"; config = { bucket = "state-${stack}"; key = "${stack}/c${toString i}.tfstate"; region = "eu-west-1"; }; };
    providers.aws = { region = "eu-west-1"; default_tags.tags = { stack = stack; component = "c${toString i}"; }; };
    inputs = { name = "c${toString i}"; size = i * 2; cidr = "10.${toString (i / 256)}.${toString (i - i / 256 * 256)}.0/24"; };
  };
  all = builtins.concatMap (stack: builtins.genList (component stack) 1000) stacks;
in
builtins.stringLength (builtins.concatStringsSep "\n" (map builtins.toJSON all))
