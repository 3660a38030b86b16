# Sourced by the kernel-update guest's script (usbip-e2e.sh), with checks.sh's helpers: kvc on
# docker (Debian's docker.io) instead of podman (issue 22). The guest root has no docker: run.sh
# hands in Debian's docker.io, containerd and tini (/var/lib/kvc-e2e/docker/*.deb; their other
# dependencies are in the root, podman's), and the steps install them as a user would, with apt,
# offline. docker_steps runs in boot 2 after the podman steps, with
# kvc@usbip stopped: it starts dockerd, gives it the image the host built (`docker load` of the
# host's `podman save` archive: the guest cannot build under TCG), switches kvc to docker
# (KVC_CONTAINER_RUNTIME in /etc/kvc/kvc.conf), and runs kvc load, the host usbip command (kvc's
# wrapper), the USB/IP round trip, kvc unload and systemctl start/stop kvc@usbip under docker;
# then it switches kvc back to podman and stops dockerd, as the steps after it expect.
dk_check() {
	what=$1; shift
	if "$@"; then ok "$what"; return; fi
	bad "$what"
	echo "  | kvc@usbip: $(systemctl is-active kvc@usbip); docker: $(systemctl is-active docker); modules: $(ls -d /sys/module/usbip_core /sys/module/usbip_host /sys/module/vhci_hcd 2>/dev/null | xargs -r -n1 basename | xargs)"
	docker ps --all 2>&1 | show
	journalctl -b -u kvc@usbip -n 25 --no-pager -o cat 2>&1 | show
}
dk_runtime() { sed -i "s/^#\{0,1\}KVC_CONTAINER_RUNTIME=.*/KVC_CONTAINER_RUNTIME=$1/" /etc/kvc/kvc.conf; }
dk_step() { say "docker: $1 took $(($(ms) - dk_t)) ms"; }
# The tools container of instance usbip runs under docker (not podman), by its pid file.
dk_tools_in_docker() { read -r pid _ </run/kvc/usbip/tools.pid 2>/dev/null && [ -n "$(docker ps --quiet --filter "id=$(docker inspect --format '{{.Id}}' kvc-usbip-tools 2>/dev/null)")" ] && [ "$(docker inspect --format '{{.State.Pid}}' kvc-usbip-tools)" = "$pid" ]; }
dk_port() { usbip port 2>/dev/null | sed -n 's/^Port \([0-9]*\): <Port in Use>.*/\1/p' | head -n 1; }

docker_steps() {
	dk_started=$(ms)
	say "D1. kvc on docker (Debian's docker.io, installed with apt) instead of podman: dockerd started"
	systemctl stop kvc@usbip
	dk_t=$(ms)
	run apt-get install -y --no-install-recommends /var/lib/kvc-e2e/docker/*.deb
	dk_step "apt install of docker.io $(dpkg-query -W -f '${Version}' docker.io 2>/dev/null), containerd, tini"
	dk_t=$(ms)
	run systemctl start docker
	dk_step "systemctl start docker (dockerd ready)"
	dk_check "dockerd is active" sh -c "[ \$(systemctl is-active docker) = active ] && docker info >/dev/null"
	image=localhost/usbip-1.0.0:$TAG
	dk_t=$(ms)
	run docker load -i "/var/lib/kvc-e2e/images/usbip-$KVER.tar"
	dk_step "docker load of the host's podman save archive"
	dk_check "docker load of the host's podman save archive: docker has $image" sh -c 'docker image inspect "$1" >/dev/null' - "$image"
	dk_runtime docker
	dk_check "KVC_CONTAINER_RUNTIME=docker in /etc/kvc/kvc.conf" grep -qx 'KVC_CONTAINER_RUNTIME=docker' /etc/kvc/kvc.conf
	images_before=$(docker images --all --quiet --no-trunc | sort)

	say "D2. kvc load usbip on docker"
	dk_t=$(ms)
	run kvc load usbip "$KVER"
	dk_step "kvc load"
	dk_check "kvc load on docker: usbip_core, usbip_host, vhci_hcd are in /sys/module" loaded
	if ! loaded; then
		say "docker: kvc load failed; what docker itself says of the image"
		run kvc --verbose load usbip "$KVER"
		run docker run --rm --pull=never --log-driver=none --network=none --cap-drop=all --security-opt=no-new-privileges "$image" /bin/sh -c 'echo sh runs; command -v modinfo'
		run docker run --rm --pull=never --network=none "$image" /bin/sh -c 'echo sh runs; command -v modinfo'
		run docker image inspect --format '{{json .Config}}' "$image"
	fi
	wait_for test -s /run/kvc/usbip/tools.pid
	run docker ps
	dk_check "... and its tools container runs under docker" dk_tools_in_docker
	dk_check "... with no capabilities (CapEff $(tools_caps))" [ "$(tools_caps)" = 0000000000000000 ]
	dk_check "... and nothing was built (docker's images as before)" [ "$(docker images --all --quiet --no-trunc | sort)" = "$images_before" ]

	say "D3. the host usbip command (kvc's wrapper) on docker: the USB/IP round trip"
	dk_t=$(ms)
	run usbipd -D
	wait_for listening
	run usbip list -l
	busid=$(stick_busid)
	dk_check "usbip list -l on docker shows the emulated USB disk (busid ${busid:-none})" sh -c "usbip list -l | grep -q 'busid ${busid:-none} '"
	run usbip bind -b "$busid"
	wait_for test -e "/sys/bus/usb/drivers/usbip-host/$busid"
	dk_check "usbip bind on docker: the disk is bound to usbip-host" test -e "/sys/bus/usb/drivers/usbip-host/$busid"
	run usbip attach -r 127.0.0.1 -b "$busid"
	wait_for vhci_disk >/dev/null
	run usbip port
	dk_check "usbip attach on docker: a port in use, the disk on the vhci bus" sh -c "usbip port | grep -q 'Port in Use' && [ -n \"\$1\" ]" - "$(vhci_disk)"
	# usbip attach keeps its record of the port under /run of the tools container: on docker only a
	# tmpfs kvc asks for makes it writable (docker's --read-only has none), and without it usbip
	# port says "error: read_record" and names no server.
	dk_check "usbip port on docker names the server and bus id of the port (usbip's record was written)" sh -c "usbip port 2>&1 | grep -q 'usbip://127.0.0.1:3240/$busid' && ! usbip port 2>&1 | grep -q read_record"
	disk=$(vhci_disk)
	expected=$(cat /var/lib/kvc-e2e/stick.sha256)
	actual=$(head -c $((8 * 1024 * 1024)) "/dev/${disk:-none}" 2>/dev/null | sha256sum | cut -d' ' -f1)
	echo "  | read 8 MiB through USB/IP from /dev/${disk:-none}: sha256 $actual (written: $expected)"
	dk_check "on docker, the data read through the attached disk is the data on it" [ "$actual" = "$expected" ]
	port=$(dk_port)
	run usbip detach -p "${port:-none}"
	wait_for sh -c '! usbip port | grep -q "Port in Use"'
	run usbip unbind -b "$busid"
	wait_for test -e "/sys/bus/usb/drivers/usb-storage/$busid:1.0"
	dk_check "usbip detach and unbind on docker: no port in use, the disk back with usb-storage" sh -c "! usbip port | grep -q 'Port in Use' && [ -e /sys/bus/usb/drivers/usb-storage/$busid:1.0 ]"
	pkill -x usbipd
	dk_step "the round trip (usbipd, list, bind, attach, read, detach, unbind)"

	say "D4. kvc unload usbip on docker"
	dk_t=$(ms)
	run kvc unload usbip "$KVER"
	dk_step "kvc unload"
	dk_check "kvc unload on docker: nothing of usbip_core, usbip_host, vhci_hcd is left" none_loaded
	dk_check "... and no kvc container is left running under docker" sh -c "[ -z \"\$(docker ps --quiet --filter name=kvc-)\" ]"

	say "D5. systemctl start and stop kvc@usbip on docker"
	cursor=$(journalctl -u kvc@usbip -n 1 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
	dk_since() { journalctl -u kvc@usbip ${cursor:+--after-cursor="$cursor"} -o cat; }
	dk_t=$(ms)
	run systemctl start kvc@usbip
	dk_step "systemctl start kvc@usbip"
	dk_since | show
	dk_check "kvc@usbip on docker: active, the modules loaded" sh -c "[ \$(systemctl is-active kvc@usbip) = active ] && [ -e /sys/module/vhci_hcd ]"
	wait_for dk_tools_in_docker
	dk_check "... its tools container under docker" dk_tools_in_docker
	# Only this kernel's image was loaded into docker: the service may start a build ahead for the
	# other kernel installed (6.1, whose image docker lacks), never one for the kernel it loads.
	# Shell functions, not sh -c strings: the cursor holds semicolons, which a string would split.
	dk_loaded_unbuilt() { dk_since | grep -q "ready: .* loaded into $KVER\$" && ! dk_since | grep -F "$KVER" | grep -qiE 'building|has no image'; }
	dk_check "... loaded $KVER's image without building it" dk_loaded_unbuilt
	dk_t=$(ms)
	run systemctl stop kvc@usbip
	dk_step "systemctl stop kvc@usbip"
	dk_check "systemctl stop kvc@usbip on docker: inactive, nothing of usbip_core, usbip_host, vhci_hcd left" sh -c "[ \$(systemctl is-active kvc@usbip) = inactive ] && ! ls /sys/module | grep -qx 'vhci_hcd\|usbip_host\|usbip_core'"
	dk_no_errors() { errors=$(journalctl -u kvc@usbip ${cursor:+--after-cursor="$cursor"} -p err -o cat) && [ -z "$errors" ]; }
	dk_check "... no error-priority lines in the unit's journal on docker" dk_no_errors

	dk_runtime podman
	systemctl stop docker.service docker.socket containerd.service
	say "docker steps took $(($(ms) - dk_started)) ms in all"
}
