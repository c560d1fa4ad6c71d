// Package imagebuild builds the project's container images without a
// container engine: static Go binaries in one layer, a config naming the
// user and entrypoint, written as docker-archive tarballs (the format
// `ctr images import`, `docker load`, `crane push` and `skopeo copy
// docker-archive:` all read) under _output/images/.
//
// Two images, each tagged twice:
//
//   - the controller image, ControllerName:<version> (or the name given) and
//     ControllerName:LocalTag: kusciatask-controller, kuscia-gate and
//     kubectl-kuscia in BinDir, user NonRootUser, entrypoint the controller,
//     plus the few files a non-root static image needs (see controllerFiles);
//     the Dockerfile builds the same layout for those who have Docker;
//   - the test application image, TestAppName:<version> and
//     TestAppName:LocalTag: test/testapp alone, user NonRootUser.
//
// The LocalTag names are fixed so deploy/overlays/local and
// examples/realnode/appimage-testapp.yaml can name them in YAML; the
// versioned names are what a user pushes.
package imagebuild
