// The container runtimes kvc drives.
export type RuntimeName = 'podman' | 'docker';
