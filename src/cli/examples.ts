// Each command's examples, shown at the end of its --help (the README's command list shows the same).
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  check: ['kvc check                  # every instance, the running kernel', 'kvc check usbip 6.12.117+deb12-amd64'],
  build: ['kvc build usbip                      # for the running kernel', 'kvc build usbip 6.12.117+deb12-amd64   # ahead of a reboot into it', 'kvc -n build usbip                   # print the podman commands only'],
  load: ['kvc load usbip', 'kvc load usbip $(uname -r) --no-wait'],
  unload: ['kvc unload usbip', 'kvc unload usbip --force            # even when a module is in use'],
  reload: ['kvc reload usbip'],
  wrapper: ['kvc wrapper usbip $(uname -r) usbip list -l'],
  status: ['kvc status', 'kvc status usbip --json | jq .instances[0].kernels'],
  enable: ['kvc enable usbip --now'],
  disable: ['kvc disable usbip --now'],
  'host-commands': ['kvc host-commands usbip', 'kvc host-commands usbip --bindir /usr/local/bin'],
  service: ['systemctl start kvc@usbip          # how it is meant to run', 'kvc service usbip                  # the same in the foreground'],
  push: ['kvc push usbip 6.1.0-56-amd64 registry.example.org/kvc'],
  kube: ['kvc kube module usbip --image-repo registry.example.org/kvc > module.yaml'],
  'kube module': ['kvc kube module usbip --image-repo registry.example.org/kvc > module.yaml'],
  'kube daemonset': ['kvc kube daemonset usbip --image-repo registry.example.org/kvc | kubectl apply -f -'],
};
