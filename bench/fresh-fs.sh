# Sourced by the benchmarks that time cold builds. ext4 scans past inodes freed in the last 30
# seconds when it allocates new ones (`recently_deleted`), so a build soon after an `rm -rf`
# measures the deletion more than the build (0.3 s or 3.5 s for the same binary and the same
# 1,000 work directories, measured). `fresh_root BASE` prints a directory to build in: on a
# new ext4 image when running as root with a loop device, else BASE after a 31-second pause;
# `release_fresh_root` unmounts the image.
fresh_mnt="$PWD/target/bench-fs"
fresh_root() {
    if [ "$(id -u)" = 0 ] && losetup -f >/dev/null 2>&1; then
        mkdir -p "$fresh_mnt"
        umount "$fresh_mnt" 2>/dev/null || true
        truncate -s 4G "$fresh_mnt.img" && mkfs.ext4 -q -F "$fresh_mnt.img" >&2 \
            && mount -o loop "$fresh_mnt.img" "$fresh_mnt"
        echo "$fresh_mnt/cold"
    else
        rm -rf "$1"
        sleep 31
        echo "$1"
    fi
}
release_fresh_root() {
    umount "$fresh_mnt" 2>/dev/null && rm -f "$fresh_mnt.img" || true
}
