# Sourced by .ci/prereqs.sh when running as root: installs Podman and makes it work
# on this kind of machine, rootful and rootless, and installs the real servers the
# tests run (an OCI registry, BIND, pebble, sshd). Idempotent.
# Rootful settings (runc, cgroupfs, ulimits, file events) are not written to
# /etc: the tests and the demo pass their own containers.conf.

need_cmd podman podman
need_cmd runc runc
need_cmd newuidmap uidmap
need_cmd slirp4netns slirp4netns
need_cmd catatonit catatonit
need_cmd setpriv util-linux
need_cmd docker-registry docker-registry   # a real OCI registry for the image tests
need_cmd htpasswd apache2-utils            # its bcrypt password file
need_cmd named bind9                       # a real DNS server for RFC 2136 updates
need_cmd pebble pebble                     # a real ACME server
need_cmd sshd openssh-server               # a real sshd for provisioning and upgrades
install_missing

user=mcptest
if ! id "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$user"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
grep -q "^$user:" /etc/subuid 2>/dev/null || usermod --add-subuids 300000-365535 "$user"
grep -q "^$user:" /etc/subgid 2>/dev/null || usermod --add-subgids 300000-365535 "$user"
# No logind here: nobody else creates the runtime directory.
install -d -m 0700 -o "$uid" -g "$gid" "/run/user/$uid"
# No udev: slirp4netns needs to open the tun device as the user.
[ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
# Rootless Podman expects shared mount propagation (systemd's default).
mount --make-rshared / 2>/dev/null || true
home=$(getent passwd "$user" | cut -d: -f6)
install -d -o "$uid" -g "$gid" "$home/.config" "$home/.config/containers"
if [ ! -f "$home/.config/containers/storage.conf" ]; then
    printf '[storage]\ndriver = "overlay"\n' > "$home/.config/containers/storage.conf"
    chown "$uid:$gid" "$home/.config/containers/storage.conf"
fi
# A runtime directory that outlived its processes (a machine restarted with /run
# kept, or the user's processes killed) leaves rootless Podman refusing every
# command ("invalid internal status, try resetting the pause process"): Podman's
# own remedy, `podman system migrate`, resets it.
as_rootless() {
    setpriv --reuid="$uid" --regid="$gid" --init-groups env -i --chdir=/ \
        HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        XDG_RUNTIME_DIR="/run/user/$uid" podman "$@"
}
if ! as_rootless info >/dev/null 2>&1; then
    as_rootless system migrate >/dev/null 2>&1 || true
    if ! out=$(as_rootless info 2>&1 >/dev/null); then
        # Only the rootless tests need it: they say so; the rest runs on.
        echo "warning: rootless Podman does not work for $user: $out" >&2
    fi
fi
