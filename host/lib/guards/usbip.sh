# USB/IP's check of a host command call, sourced by kvc-tool before the tool runs (kvc-tool sets
# $tool, $run_dir, $instance and kvc_tool_run). Two `usbip attach` of the same remote device must
# not both go through (the second resets the device under the first): one at a time per remote and
# busid, and none when it is attached already. The lock stays held (fd 9) while the tool runs.

# `usbip attach`'s remote and busid, read as its getopt_long does: -r HOST, -rHOST, --remote HOST,
# --remote=HOST and any unique abbreviation (--rem…); likewise -b/--busid and -d/--device.
attach_target() {
	remote='' busid=''
	shift
	while [ $# -gt 0 ]; do
		arg=$1 value=''
		case $arg in
		--) break ;;
		--*=*) value=${arg#*=} arg=${arg%%=*} ;;
		esac
		case $arg in
		-r?*) remote=${arg#-r} ;;
		-b?*) busid=${arg#-b} ;;
		-d?*) busid=${arg#-d} ;;
		-r) remote=${2-}; shift ;;
		-b | -d) busid=${2-}; shift ;;
		--r | --re | --rem | --remo | --remot | --remote)
			if [ -n "$value" ]; then remote=$value; else remote=${2-}; shift; fi ;;
		--b | --bu | --bus | --busi | --busid)
			if [ -n "$value" ]; then busid=$value; else busid=${2-}; shift; fi ;;
		--d | --de | --dev | --devi | --devic | --device)
			if [ -n "$value" ]; then busid=$value; else busid=${2-}; shift; fi ;;
		esac
		shift
	done
	remote=$(printf '%s' "$remote" | tr 'A-Z' 'a-z')
	# The address `usbip port` will show for that host, so two spellings of one host are one.
	if command -v getent >/dev/null 2>&1; then
		address=$(getent ahosts "$remote" 2>/dev/null | awk 'NR == 1 { print $1 }')
		[ -n "$address" ] && remote=$address
	fi
}

if [ "$tool" = usbip ] && [ "${1-}" = attach ]; then
	attach_target "$@"
	if [ -n "$remote" ] && [ -n "$busid" ]; then
		mkdir -p "$run_dir/$instance/attach"
		key=$(printf '%s_%s' "$remote" "$busid" | tr -c 'A-Za-z0-9._-' '_')
		lock=$run_dir/$instance/attach/$key.lock
		if [ -L "$lock" ]; then
			echo "usbip: $lock is a symbolic link; not using it" >&2
			exit 1
		fi
		exec 9>>"$lock"
		if ! flock -n 9; then
			echo "usbip: another attach of $busid from $remote is in progress; not attaching it twice" >&2
			exit 1
		fi
		if kvc_tool_run port 2>/dev/null | grep -q "usbip://$remote:[0-9]*/$busid\$"; then
			echo "usbip: $busid from $remote is already attached (see: usbip port); not attaching it twice" >&2
			exit 1
		fi
	fi
fi
