{{/*
The Kubernetes API calls each plugin makes, as RBAC grants: nothing else is
granted (tests/helm/test_rbac.py drives every plugin against the Kubernetes
stand-in and checks both ways). A server-side apply (PATCH) that makes a new
object is also authorized as `create`. Everything is namespaced in the project
namespaces, which home-idp makes as projects come, so the grants are
cluster-wide.
*/}}
{{- define "home-idp.rbacGrants" -}}
# plugins/builder/kaniko.py: one Job per build, with two Secrets it owns.
kaniko:
  # Start a build, read its outcome, cancel it or replace an earlier start's.
  - {apiGroup: batch, resource: jobs, verbs: [create, get, delete]}
  # Find the Job's pod (by its job-name label) and see which container runs.
  - {apiGroup: "", resource: pods, verbs: [get, list]}
  # Stream each container's log.
  - {apiGroup: "", resource: pods/log, verbs: [get]}
  # The push and git credentials: created, owned by the Job (update), replaced
  # when a concurrent start made them first (get, update), deleted after it.
  - {apiGroup: "", resource: secrets, verbs: [create, get, update, delete]}
# plugins/deployer/kubernetes.py: server-side apply of the app's objects, prune, rollout.
kubernetes:
  # The project's Namespace is applied first.
  - {apiGroup: "", resource: namespaces, verbs: [create, patch]}
  # The kinds kubernetes_objects.MANAGED lists: applied, listed by the app's
  # labels and deleted when no longer rendered (prune, undeploy).
  - {apiGroup: "", resource: secrets, verbs: [create, patch, list, delete]}
  - {apiGroup: "", resource: configmaps, verbs: [create, patch, list, delete]}
  - {apiGroup: "", resource: services, verbs: [create, patch, list, delete]}
  # get: the rollout's status; list also across all namespaces (list_running).
  - {apiGroup: apps, resource: deployments, verbs: [create, patch, get, list, delete]}
  - {apiGroup: networking.k8s.io, resource: ingresses, verbs: [create, patch, list, delete]}
  # The rollout's pods (CrashLoopBackOff, ImagePullBackOff and the like) and
  # the resource view's; a maintainer deletes one (get: whose it is first).
  - {apiGroup: "", resource: pods, verbs: [list, get, delete]}
  # The app's live logs.
  - {apiGroup: "", resource: pods/log, verbs: [get]}
# plugins/deployer/argocd.py: Argo CD's own API makes the Applications (no
# Kubernetes call for them); only the app's Secrets, whose values never go to
# git, are applied to the cluster, with their Namespace.
argocd:
  - {apiGroup: "", resource: namespaces, verbs: [create, patch]}
  - {apiGroup: "", resource: secrets, verbs: [create, patch]}
  # The resource view lists the app's objects (never its Secrets: listing
  # them reads their values), its live logs, and deleting a pod.
  - {apiGroup: apps, resource: deployments, verbs: [list]}
  - {apiGroup: "", resource: services, verbs: [list]}
  - {apiGroup: "", resource: configmaps, verbs: [list]}
  - {apiGroup: networking.k8s.io, resource: ingresses, verbs: [list]}
  - {apiGroup: "", resource: pods, verbs: [list, get, delete]}
  - {apiGroup: "", resource: pods/log, verbs: [get]}
{{- end }}

{{/* The grants of the configured builder and deployer, merged per resource, sorted. */}}
{{- define "home-idp.rbacRules" -}}
{{- $grants := include "home-idp.rbacGrants" . | fromYaml }}
{{- $merged := dict }}
{{- range $plugin := list .Values.config.builder.plugin .Values.config.deployer.plugin }}
{{- range (get $grants $plugin | default list) }}
{{- $key := printf "%d|%s|%s" (ternary 0 1 (eq .apiGroup "")) .apiGroup .resource }}
{{- $rule := get $merged $key | default (dict "apiGroup" .apiGroup "resource" .resource "verbs" list) }}
{{- $_ := set $rule "verbs" (concat $rule.verbs .verbs | uniq | sortAlpha) }}
{{- $_ := set $merged $key $rule }}
{{- end }}
{{- end }}
{{- range $key := keys $merged | sortAlpha }}
{{- $rule := get $merged $key }}
- apiGroups: [{{ $rule.apiGroup | quote }}]
  resources: [{{ $rule.resource | quote }}]
  verbs: [{{ range $i, $verb := $rule.verbs }}{{ if $i }}, {{ end }}{{ $verb | quote }}{{ end }}]
{{- end }}
{{- end }}
