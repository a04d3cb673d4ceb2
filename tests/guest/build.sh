#!/usr/bin/env bash
# tests/guest/build.sh OUTDIR - builds the Overcast test guest from Debian
# packages only (README.md in this directory says what it does):
#   OUTDIR/vmlinuz       the kernel of linux-image-cloud-amd64 (not installed here)
#   OUTDIR/initrd.img    busybox-static + the virtio modules + our init
#   OUTDIR/rootdisk.img  a 32 MiB raw disk for direct kernel boot
#   OUTDIR/disk.img      a 64 MiB raw disk that boots by itself (syslinux)
# Up-to-date outputs are kept; the kernel package is cached in OUTDIR/.debs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

die() { echo "guest/build.sh: $*" >&2; exit 1; }

fresh=1
for f in vmlinuz initrd.img rootdisk.img disk.img; do
    if [ ! -s "$out/$f" ] || [ "$here/build.sh" -nt "$out/$f" ] || [ "$here/init" -nt "$out/$f" ] ||
       [ "$here/udhcpc.script" -nt "$out/$f" ]; then
        fresh=0
    fi
done
if [ "$fresh" = 1 ]; then
    echo "guest: up to date in $out ($(cat "$out/.kernel" 2>/dev/null))"
    exit 0
fi

# Tools, from Debian.
need=()
for p in busybox-static cpio syslinux syslinux-common mtools dosfstools kmod; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "guest: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x /bin/busybox ] || die "busybox-static did not install /bin/busybox"
/bin/busybox --list | grep -qx udhcpc || die "/bin/busybox has no udhcpc applet"
mbr_check=/usr/lib/syslinux/modules/bios/ldlinux.c32
[ -f "$mbr_check" ] || die "$mbr_check missing (syslinux-common)"

# The kernel package: the cloud flavour's current version.
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -1)
if [ -z "$pkg" ]; then
    apt-get update -qq
    pkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -1)
fi
[ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
mkdir -p "$out/.debs"
deb=$(ls "$out/.debs/${pkg}_"*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
    echo "guest: downloading $pkg"
    (cd "$out/.debs" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    deb=$(ls "$out/.debs/${pkg}_"*.deb 2>/dev/null | head -1 || true)
fi
[ -n "$deb" ] || die "apt-get download $pkg failed"

work=$(mktemp -d /tmp/overcast-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/pkg"
kver=$(ls "$work/pkg/lib/modules")
moddir="$work/pkg/lib/modules/$kver"
cp "$work/pkg/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"

# ---- initramfs
root="$work/root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,lib/modules,usr/share/udhcpc}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/udhcpc.script" "$root/usr/share/udhcpc/default.script"

# Modules the guest needs, in dependency order (the package has no
# modules.dep; modinfo reads each file's own "depends").  Built-in ones are
# skipped.
wanted="virtio_blk virtio_net virtio_pci virtio-rng"
declare -A done_mod=()
order=()
find_ko() { find "$moddir/kernel" -name "$1.ko" -o -name "$1.ko.xz" | head -1; }
add_mod() {
    local m=$1 f deps d
    [ -n "${done_mod[$m]:-}" ] && return
    done_mod[$m]=1
    if grep -q "/$m.ko$" "$moddir/modules.builtin" 2>/dev/null; then return; fi
    f=$(find_ko "$m")
    [ -n "$f" ] || die "module $m is neither built in nor in $pkg"
    deps=$(/sbin/modinfo -F depends "$f" | tr ',' ' ')
    for d in $deps; do add_mod "$d"; done
    case "$f" in
        *.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
        *) cp "$f" "$root/lib/modules/$m.ko" ;;
    esac
    order+=("$m")
}
for m in $wanted; do add_mod "$m"; done
printf '%s\n' "${order[@]}" > "$root/lib/modules/modules.order"
(cd "$root" && find . | sort | cpio -o -H newc --quiet -R 0:0 | gzip -9) > "$out/initrd.img.tmp"

# ---- rootdisk.img: for direct kernel boot; the guest writes its last MiB.
rm -f "$out/rootdisk.img.tmp"
truncate -s 32M "$out/rootdisk.img.tmp"
printf 'overcast test guest root disk\n' | dd of="$out/rootdisk.img.tmp" conv=notrunc status=none

# ---- disk.img: a FAT filesystem with syslinux in its boot sector at LBA 0
# (SeaBIOS boots it like any disk), 48 MiB of filesystem on a 64 MiB disk
# so the guest's write to the last MiB never touches it.
fat="$work/fat.img"
truncate -s 48M "$fat"
mkfs.fat -F 16 -n OCGUEST "$fat" >/dev/null
cat > "$work/syslinux.cfg" <<'CFG'
SERIAL 0 115200
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND console=ttyS0
CFG
syslinux --install "$fat"
mcopy -i "$fat" "$out/vmlinuz.tmp" ::/vmlinuz
mcopy -i "$fat" "$out/initrd.img.tmp" ::/initrd.img
mcopy -i "$fat" "$work/syslinux.cfg" ::/syslinux.cfg
rm -f "$out/disk.img.tmp"
cp "$fat" "$out/disk.img.tmp"
truncate -s 64M "$out/disk.img.tmp"

for f in vmlinuz initrd.img rootdisk.img disk.img; do mv "$out/$f.tmp" "$out/$f"; done
echo "$kver ($pkg), modules: ${order[*]}" > "$out/.kernel"
echo "guest: built in $out: kernel $kver; modules ${order[*]}"
ls -l "$out/vmlinuz" "$out/initrd.img" "$out/rootdisk.img" "$out/disk.img" | awk '{print "  " $5 "\t" $9}'
