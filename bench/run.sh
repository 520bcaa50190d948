#!/usr/bin/env bash
# The runner's benchmarks (issue 5), side by side in one run:
#   (a) no-op `infra plan` over N applied components vs a loop running `terraform plan` in each
#       work directory, 8 at a time (what Terragrunt's `run --all plan` does);
#   (b) one changed component out of N: `infra apply` vs `terraform plan` + `apply` by hand in
#       that one directory (infra's overhead);
#   (c) parallel efficiency on a DAG (fan-out and chains) with a scripted stand-in tool whose
#       plan and apply each sleep 1 s, -j 8, against the critical-path bound.
# Usage: bench/run.sh [N]   (default 200; needs the real Terraform: tools/install-terraform)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
[ -x target/release/infra ] || cargo build --release --quiet
infra="$PWD/target/release/infra"
tf_dir="$(bash tools/install-terraform)"
export PATH="$tf_dir:/usr/bin:/bin"
dir="$PWD/target/bench-run"
bash bench/estate.sh "$dir" "$n"
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

echo "applying $n components once (setup)…"
"$infra" -C "$dir" apply --auto-approve -j 8 >/dev/null 2>&1
noop=$(for _ in 1 2 3 4 5; do ms "$infra" -C "$dir" plan; done | median)
processes=$("$infra" -C "$dir" plan --json 2>/dev/null | grep '"summary"' | sed 's/.*"processes":\([0-9]*\).*/\1/')
loop=$(ms bash -c "ls -d '$dir'/.infra/work/prod/* | xargs -P 8 -I{} sh -c 'cd {} && terraform plan -input=false -no-color >/dev/null'")
echo "(a) no-op plan, $n applied components: infra ${noop} ms (${processes} Terraform processes); terraform plan in each, 8 at a time: ${loop} ms"

# (b) Change the last component's input (nothing depends on it).
last=$(printf 'c%03d' $((n - 1)))
sed -i "s/inputs = { name = \"c\${pad i}\"; }/inputs = { name = \"c\${pad i}\"; } \/\/ (if i == $((n - 1)) then { name = \"changed\"; } else { })/" "$dir/main.infra"
infra_one=$(ms "$infra" -C "$dir" apply --auto-approve)
ran=$(ls "$dir"/.infra/logs/*/ | grep -c . || true)
sed -i "s/name = \"changed\"/name = \"changed-again\"/" "$dir/main.infra"
"$infra" -C "$dir" build >/dev/null 2>&1
work="$dir/.infra/work/prod/$last"
# By hand, in the same directory: the same two Terraform steps infra runs (plan -out, apply).
sed -i 's/"changed"/"changed-again"/' "$work/infra.auto.tfvars.json"
by_hand=$(ms bash -c "cd '$work' && terraform plan -input=false -no-color -out=h.tfplan && terraform apply -input=false -no-color h.tfplan")
echo "(b) one changed component of $n: infra apply ${infra_one} ms; terraform plan+apply by hand ${by_hand} ms; overhead $((infra_one - by_hand)) ms"

# (c) The scripted stand-in: plan and apply sleep 1 s each.
sdir="$PWD/target/bench-run-sleep"
rm -rf "$sdir" && mkdir -p "$sdir/modules/m" "$sdir/bin"
echo 'variable "upstream" { default = "" }' > "$sdir/modules/m/main.tf"
cat > "$sdir/bin/terraform" <<'SH'
#!/bin/sh
# A scripted stand-in for Terraform (benchmark only): fixed-time plan and apply.
case "$1" in
  version) echo '{"terraform_version":"0.0.0-stand-in"}' ;;
  init) mkdir -p .terraform ;;
  plan) sleep 1; exit 2 ;;
  show) echo "{}" ;;
  apply) sleep 1 ;;
  output) echo '{"id":{"sensitive":false,"type":"string","value":"x"}}' ;;
esac
SH
chmod +x "$sdir/bin/terraform"
# 4 chains of 4 (a critical path of 4 components) plus 16 independent components.
cat > "$sdir/main.infra" <<'NIX'
let
  chain = c: builtins.genList (i: infra.component "chain${toString c}-${toString i}" {
    source = ./modules/m;
    dependsOn = if i == 0 then [ ] else [ "chain${toString c}-${toString (i - 1)}" ];
  }) 4;
  leaves = builtins.genList (i: infra.component "leaf${toString i}" { source = ./modules/m; }) 16;
in
{ s = infra.stack "s" { components = builtins.concatLists (builtins.genList chain 4) ++ leaves; }; }
NIX
wall=$(INFRA_TF="$sdir/bin/terraform" ms "$infra" -C "$sdir" apply --auto-approve -j 8)
# Work: 32 components x 2 s = 64 s of sleeping on 8 slots = 8 s; the critical path is 4 x 2 s.
bound=8000
echo "(c) parallel efficiency, 32 components (4 chains of 4 + 16 leaves), -j 8: ${wall} ms vs bound ${bound} ms: $(( bound * 100 / wall ))%"
