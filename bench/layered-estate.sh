#!/usr/bin/env bash
# Generates the layered estate the build and scale benchmarks time: STACKS stacks (s00, s01, …)
# of PER components, 20 shared modules (variables and outputs only, so the real Terraform
# applies them offline), layered YAML config per stack (`lib.loadHierarchy`), 9 of every 10
# components reading the previous one's output; `edit` (empty) is a marker in s00/c001's name
# that a benchmark changes to change exactly one component.
# Usage: bench/layered-estate.sh DIR STACKS PER
set -euo pipefail
dir="$1"
stacks="$2"
per="$3"
mkdir -p "$dir/config"
for m in $(seq -w 0 19); do
    mkdir -p "$dir/modules/m$m"
    cat > "$dir/modules/m$m/main.tf" <<TF
variable "name" { type = string }
variable "size" { type = number }
variable "upstream" {
  type    = string
  default = ""
}
variable "labels" { type = map(string) }
output "id" { value = "m$m-\${var.name}-\${var.size}-\${substr(sha256(var.upstream), 0, 6)}" }
TF
done
printf 'size: 1\nlabels:\n  team: platform\n' > "$dir/config/defaults.yaml"
for s in $(seq 0 $((stacks - 1)) | xargs printf '%02d '); do
    mkdir -p "$dir/config/env=s$s"
    printf 'size: 2\nlabels:\n  env: s%s\n' "$s" > "$dir/config/env=s$s/env.yaml"
done
cat > "$dir/main.infra" <<NIX
let
  lib = infra.lib;
  edit = "";
  pad = i: let s = toString i; in if i < 10 then "00\${s}" else if i < 100 then "0\${s}" else s;
  mod = i: let m = i - (i / 20) * 20; in if m < 10 then "0\${toString m}" else toString m;
  component = i: infra.component "c\${pad i}" (ctx: {
    source = ./modules + "/m\${mod i}";
    inputs = {
      name = "\${ctx.stack}-c\${pad i}\${if ctx.stack == "s00" && i == 1 then edit else ""}";
      inherit (ctx.settings) size labels;
    } // lib.optionalAttrs (i - (i / 10) * 10 != 0) {
      upstream = (builtins.elemAt components (i - 1)).outputs.id;
    };
  });
  components = builtins.genList component $per;
  stack = name: infra.stack name {
    settings = lib.loadHierarchy ./config "env=\${name}";
    inherit components;
  };
  names = builtins.genList (s: "s\${if s < 10 then "0" else ""}\${toString s}") $stacks;
in
lib.genAttrs names stack
NIX
