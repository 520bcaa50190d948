# Copies the archive into the local registry, keyed by its digest.
set -eu
mkdir -p "$INFRA_ROOT/registry"
cp "$INFRA_ROOT/$INFRA_INPUT_BUILD_ARCHIVE" "$INFRA_ROOT/registry/$INFRA_INPUT_BUILD_DIGEST.tar.gz"
echo "pushed registry/$INFRA_INPUT_BUILD_DIGEST.tar.gz"
printf '{"image":"registry/%s.tar.gz"}' "$INFRA_INPUT_BUILD_DIGEST" > "$INFRA_OUTPUTS"
