module github.com/stratabuild/strata

go 1.26.8

require (
	github.com/CycloneDX/cyclonedx-go v0.12.0 // tests: round-trip CycloneDX SBOMs
	github.com/ProtonMail/go-crypto v1.5.2 // OpenPGP check of Debian InRelease (maintained x/crypto/openpgp fork)
	github.com/bmatcuk/doublestar/v4 v4.10.4 // debian.paths globs with ** (path.Match has no **)
	github.com/goccy/go-yaml v1.19.2 // spec parsing with an AST and line numbers
	github.com/google/go-containerregistry v0.22.1 // image model, mutate, tarball/layout/remote/daemon
	github.com/invopop/jsonschema v0.14.0 // JSON Schema generated from the spec types
	github.com/klauspost/compress v1.20.4 // fast, deterministic gzip and zstd
	github.com/klauspost/pgzip v1.3.0 // opt-in gzip on every core (--compression pgzip): deterministic 1 MiB blocks
	github.com/moby/moby/client v0.5.1 // Docker Engine API for --load (API version negotiation)
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // tests: validate SBOMs against the official schemas
	github.com/spdx/tools-golang v0.5.7 // tests: round-trip SPDX SBOMs
	github.com/spf13/cobra v1.10.2 // the command line (internal/cli only)
	github.com/ulikunitz/xz v0.5.17 // pure-Go xz for Packages.xz and data.tar.xz
	golang.org/x/sync v0.24.0 // errgroup: bounded parallel work with one Jobs knob
	golang.org/x/sys v0.50.0 // flock for the store
	golang.org/x/term v0.48.0 // progress only on a terminal
	pault.ag/go/debian v0.21.4 // dpkg version comparison, control files
)

require (
	github.com/Microsoft/go-winio v0.6.2 // indirect
	github.com/anchore/go-struct-converter v0.1.0 // indirect
	github.com/bahlo/generic-list-go v0.2.0 // indirect
	github.com/buger/jsonparser v1.1.2 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/cloudflare/circl v1.6.5 // indirect
	github.com/containerd/errdefs v1.0.0 // indirect
	github.com/containerd/errdefs/pkg v0.3.0 // indirect
	github.com/distribution/reference v0.6.0 // indirect
	github.com/docker/cli v29.7.2+incompatible // indirect
	github.com/docker/docker-credential-helpers v0.9.3 // indirect
	github.com/docker/go-connections v0.7.0 // indirect
	github.com/docker/go-units v0.5.0 // indirect
	github.com/felixge/httpsnoop v1.0.4 // indirect
	github.com/go-logr/logr v1.4.3 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/moby/docker-image-spec v1.3.1 // indirect
	github.com/moby/moby/api v1.55.0 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	github.com/pb33f/ordered-map/v2 v2.3.1 // indirect
	github.com/sirupsen/logrus v1.9.4 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp v0.61.0 // indirect
	go.opentelemetry.io/otel v1.41.0 // indirect
	go.opentelemetry.io/otel/metric v1.41.0 // indirect
	go.opentelemetry.io/otel/trace v1.41.0 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.2 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	pault.ag/go/topsort v0.1.1 // indirect
)
