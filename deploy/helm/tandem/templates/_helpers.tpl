{{/* The chart's name. */}}
{{- define "tandem.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's resources' base name, within the 63 characters of a DNS label. */}}
{{- define "tandem.fullname" -}}
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

{{/* The headless Service giving every pod its DNS name. */}}
{{- define "tandem.headless" -}}
{{- printf "%s-headless" (include "tandem.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The cluster name (--cluster). */}}
{{- define "tandem.cluster" -}}
{{- default .Release.Name .Values.cluster }}
{{- end }}

{{/* The DNS domain of the pods: <headless>.<namespace>.svc.<clusterDomain>. */}}
{{- define "tandem.podDomain" -}}
{{- printf "%s.%s.svc.%s" (include "tandem.headless" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/* --peers: every pod as <pod>=<pod>.<podDomain>:<rpc port>. */}}
{{- define "tandem.peers" -}}
{{- $full := include "tandem.fullname" . }}
{{- $domain := include "tandem.podDomain" . }}
{{- $peers := list }}
{{- range $i := until (int .Values.replicas) }}
{{- $pod := printf "%s-%d" $full $i }}
{{- $peers = append $peers (printf "%s=%s.%s:%d" $pod $pod $domain (int $.Values.ports.rpc)) }}
{{- end }}
{{- join "," $peers }}
{{- end }}

{{- define "tandem.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tandem.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tandem.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tandem.labels" -}}
helm.sh/chart: {{ include "tandem.chart" . }}
{{ include "tandem.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
