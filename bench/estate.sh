#!/usr/bin/env bash
# Generates a synthetic estate for the runner and cache benchmarks: one stack of N components
# of one small module (variables and outputs only, so the real Terraform runs it offline), 9
# of every 10 reading the previous component's output. Usage: bench/estate.sh DIR N
set -euo pipefail
dir="$1"
n="$2"
rm -rf "$dir" && mkdir -p "$dir/modules/m"
cat > "$dir/modules/m/main.tf" <<'TF'
variable "name" { type = string }
variable "upstream" {
  type    = string
  default = ""
}
output "id" { value = "${var.name}-${substr(sha256(var.upstream), 0, 8)}" }
TF
cat > "$dir/main.infra" <<NIX
let
  pad = i: let s = toString i; in if i < 10 then "00\${s}" else if i < 100 then "0\${s}" else s;
  component = i: infra.component "c\${pad i}" {
    source = ./modules/m;
    inputs = { name = "c\${pad i}"; } // (if i - (i / 10) * 10 == 0 then { } else {
      upstream = (builtins.elemAt components (i - 1)).outputs.id;
    });
  };
  components = builtins.genList component $n;
in
{ prod = infra.stack "prod" { inherit components; }; }
NIX
