package config

// Template is what `burrow profile init` writes: every key, commented,
// with the schema line that taplo and Even Better TOML understand.
func Template(schemaPath string) string {
	return `#:schema ` + schemaPath + `
# burrow.toml: how 'burrow run' sandboxes this project.
# Reference: docs/profiles.md. Values below are the defaults; uncomment to change.
# A project profile may always tighten; what it asks beyond your own config
# (writable binds outside the project, paths in your home, your variables)
# needs 'burrow trust' once, and again after every change.

# extends = "strict"          # default, strict, a profile of yours, or ./other.toml

[sandbox]
# hostname = "burrow"
# workdir = "${PROJECT}"      # working directory inside
# rootfs = "./rootfs"         # a root file system directory instead of the host's
# user = "0:0"                # UID[:GID] inside
# map = "auto"                # auto, full or single
# tty = "auto"                # auto, always or never
# root = "ro"                 # ro, or cow: writable system directories, host untouched
# image = "bookworm"          # run on an imported image (burrow images)
# cow_driver = "auto"         # auto, native or fuse

[project]
# mode = "rw"                 # rw, ro, or cow: changes kept until burrow apply

[network]
# mode = "none"               # none, pasta, slirp4netns, host, or auto
# publish = ["8080:80"]       # [HOSTIP:]HOSTPORT:PORT[/tcp|/udp], on 127.0.0.1 unless HOSTIP
# dns = ["10.0.2.3"]
# allow_host_loopback = false # reach the host's 127.0.0.1 at 10.0.2.2

[limits]
# memory = "2G"               # hard limit; also memory_high, cpus, pids, cpu_weight, io_weight
# cgroups = "auto"            # auto, systemd or none

[security]
# seccomp = "default"         # default, unconfined, or an OCI/Docker JSON profile (path)
# allow_nested_userns = false # let tools that sandbox themselves make user namespaces
# unmask = false              # with it: leave /proc unmasked so they can mount their own
# cap_add = ["NET_RAW"]       # capabilities beyond the default set; "all" for every one
# cap_drop = ["all"]          # capabilities to drop; "all" leaves uid 0 none

[env]
# pass = ["GOFLAGS"]          # your variables to pass in (added to the defaults)
# all = false                 # pass everything (unsafe)
# [env.set]
# CI = "true"

# [[mount]]
# type = "ro-bind"            # bind, ro-bind or tmpfs
# source = "~/.cache/go-build"
# target = "/cache"           # default: the same path as source

# [drop]
# mounts = ["/cache"]         # inherited mounts to drop, by target; "*" for all
# env = ["TZ"]                # inherited env entries to drop; "*" for all
`
}
