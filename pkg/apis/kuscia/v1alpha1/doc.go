// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +groupName=kuscia.secretflow
// +k8s:openapi-model-package=io.kusciatask.controller.pkg.apis.kuscia.v1alpha1

// Package v1alpha1 holds the kuscia.secretflow/v1alpha1 API served by
// kusciatask-controller: KusciaTask (one multi-party task) and AppImage (the
// image and pod templates a party runs).
package v1alpha1
