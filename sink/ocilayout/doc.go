// Package ocilayout owns the OCI image layout sink: a folder with
// oci-layout, index.json and blobs/, whose index entry carries
// org.opencontainers.image.ref.name=TAG so `skopeo copy oci:DIR:TAG` and
// `umoci unpack --image DIR:TAG` address it. The folder is written beside
// the target and swapped in, so a failed build leaves the old one intact.
package ocilayout
