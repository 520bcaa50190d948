# Switches the `live` pointer to the deployed release, atomically (a symlink renamed over
# the old one): the server serves the new files at once.
set -eu
cd "$INFRA_ROOT"
ln -sfn "$INFRA_INPUT_DEPLOY_RELEASE" live.next
mv -T live.next live
echo "live: $INFRA_INPUT_DEPLOY_RELEASE"
printf '{"live":"%s"}' "$(basename "$INFRA_INPUT_DEPLOY_RELEASE")" > "$INFRA_OUTPUTS"
