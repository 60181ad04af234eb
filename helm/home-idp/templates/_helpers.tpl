{{/* Names and labels, as every template uses them. */}}

{{- define "home-idp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name alone when it already holds the chart's. */}}
{{- define "home-idp.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "home-idp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "home-idp.labels" -}}
helm.sh/chart: {{ include "home-idp.chart" . }}
{{ include "home-idp.selectorLabels" . }}
app.kubernetes.io/version: {{ include "home-idp.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "home-idp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "home-idp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "home-idp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "home-idp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "home-idp.imageTag" -}}
{{- if eq (toString .Values.image.tag) "latest" }}
{{- fail "image.tag: `latest` is not a pinned tag; leave it out for the chart's appVersion, or name a version" }}
{{- end }}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "home-idp.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "home-idp.imageTag" .) }}
{{- end }}

{{/* The Secret the pods read their sensitive settings from. */}}
{{- define "home-idp.secretName" -}}
{{- default (include "home-idp.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The variables that hold secrets: never in the ConfigMap (extraEnv is checked). */}}
{{- define "home-idp.secretKeys" -}}
HOME_IDP_JWT_SECRET HOME_IDP_SECRETS_KEY HOME_IDP_DATABASE_URL HOME_IDP_GIT__WEBHOOK_SECRET HOME_IDP_REGISTRY__WEBHOOK_SECRET HOME_IDP_GIT__OPTIONS HOME_IDP_REGISTRY__OPTIONS HOME_IDP_BUILDER__OPTIONS HOME_IDP_DEPLOYER__OPTIONS HOME_IDP_TRACE__EXPORT_HEADERS
{{- end }}

{{/* Whether the server has a database it can share between replicas. */}}
{{- define "home-idp.hasDatabase" -}}
{{- if or .Values.database.url .Values.database.existingSecret .Values.existingSecret }}true{{ end }}
{{- end }}

{{/*
HOME_IDP_PUBLIC_URL: as given; else the Ingress's first host (https when a
TLS entry names it); else the Service's cluster DNS name, which build pods in
the cluster reach.
*/}}
{{- define "home-idp.publicUrl" -}}
{{- if .Values.config.publicUrl }}
{{- .Values.config.publicUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := (first .Values.ingress.hosts).host }}
{{- $tls := false }}
{{- range .Values.ingress.tls }}
{{- if has $host (.hosts | default list) }}{{ $tls = true }}{{ end }}
{{- end }}
{{- printf "%s://%s" (ternary "https" "http" $tls) $host }}
{{- else }}
{{- $port := int .Values.service.port }}
{{- printf "http://%s.%s.svc%s" (include "home-idp.fullname" .) .Release.Namespace (ternary "" (printf ":%d" $port) (eq $port 80)) }}
{{- end }}
{{- end }}
