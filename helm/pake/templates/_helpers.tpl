{{/* The prefix of every resource name: the release name unless overridden. */}}
{{- define "pake.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The four components, in the order they are rendered. */}}
{{- define "pake.components" -}}
identity knowledge search edge
{{- end -}}

{{/* The fully-qualified gRPC service of a component (crates/runtime health names). */}}
{{- define "pake.grpcService" -}}
{{- get (dict "identity" "pake.identity.v1.IdentityService" "knowledge" "pake.knowledge.v1.KnowledgeService" "search" "pake.search.v1.SearchService") . -}}
{{- end -}}

{{/* Labels of every object. Call with (dict "root" $ "component" "identity"). */}}
{{- define "pake.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "pake.selectorLabels" . }}
{{- end -}}

{{/* Selector labels; component may be empty for release-wide objects. */}}
{{- define "pake.selectorLabels" -}}
app.kubernetes.io/name: {{ default .root.Chart.Name .root.Values.nameOverride }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* <fullname>-<component>: Deployment, Service and ServiceAccount name. */}}
{{- define "pake.name" -}}
{{- printf "%s-%s" (include "pake.fullname" .root) .component -}}
{{- end -}}

{{/* In-cluster host of a component's Service. */}}
{{- define "pake.host" -}}
{{- printf "%s.%s.svc.%s" (include "pake.name" .) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* gRPC URL of a component. */}}
{{- define "pake.grpcUrl" -}}
{{- printf "http://%s:50051" (include "pake.host" .) -}}
{{- end -}}

{{/* Istio principal (SPIFFE identity without the scheme) of a component's ServiceAccount. */}}
{{- define "pake.principal" -}}
{{- printf "%s/ns/%s/sa/%s" .root.Values.istio.trustDomain .root.Release.Namespace (include "pake.name" .) -}}
{{- end -}}

{{/* The PAKE image reference. */}}
{{- define "pake.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* One TOML value: string, boolean, integer or a list of them (values.schema.json allows no
     other kind). Helm reads YAML numbers as float64 and toToml would write 300 as 300.0, which
     PAKE's integer settings reject, hence this. */}}
{{- define "pake.tomlValue" -}}
{{- if kindIs "string" . -}}
{{- toJson . -}}
{{- else if kindIs "bool" . -}}
{{- ternary "true" "false" . -}}
{{- else if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) -}}
{{- if ne (float64 .) (floor .) -}}
{{- fail (printf "config: %v is not an integer" .) -}}
{{- end -}}
{{- int64 . -}}
{{- else if kindIs "slice" . -}}
[{{ range $index, $item := . }}{{ if $index }}, {{ end }}{{ include "pake.tomlValue" $item }}{{ end }}]
{{- else -}}
{{- fail (printf "config: %v is not a string, boolean, integer or list" .) -}}
{{- end -}}
{{- end -}}

{{/* The `pake.toml` of the ConfigMap: one table per section of .Values.config. */}}
{{- define "pake.toml" -}}
# Rendered by the chart from .Values.config; see docs/operations.md for every key.
{{- /* Top-level keys first: in TOML everything after a [section] header belongs to it. */}}
{{- range $key, $value := .Values.config }}
{{- if not (kindIs "map" $value) }}
{{ $key }} = {{ include "pake.tomlValue" $value }}
{{- end }}
{{- end }}
{{- range $section, $keys := .Values.config }}
{{- if kindIs "map" $keys }}

[{{ $section }}]
{{- range $key, $value := $keys }}
{{ $key }} = {{ include "pake.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.vault }}
{{- if .enabled }}

# From .Values.vault (docs/operations.md "Vault").
[vault]
address = {{ include "pake.tomlValue" .address }}
kv_mount = {{ include "pake.tomlValue" .kvMount }}
path = {{ include "pake.tomlValue" .path }}
refresh_secs = {{ include "pake.tomlValue" .refreshSecs }}
timeout_secs = {{ include "pake.tomlValue" .timeoutSecs }}

[vault.auth]
method = {{ include "pake.tomlValue" .auth.method }}
{{- if eq .auth.method "kubernetes" }}
role = {{ include "pake.tomlValue" .auth.role }}
mount = {{ include "pake.tomlValue" .auth.mount }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Whether a component logs in to Vault with its ServiceAccount token. */}}
{{- define "pake.vaultKubernetes" -}}
{{- $vault := .root.Values.vault -}}
{{- if and $vault.enabled (eq $vault.auth.method "kubernetes") (ne .component "edge") -}}
true
{{- end -}}
{{- end -}}
