{{/* The name of every object the chart makes. */}}
{{- define "surveyguard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "surveyguard.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels that select the manager's pods. */}}
{{- define "surveyguard.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end -}}

{{/* The surveyguard image: manager, collector and purge share it. */}}
{{- define "surveyguard.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The manager's rules, generated from the code's RBAC markers by `make
manifests` into files/manager-role.yaml: one source for chart and kustomize. */}}
{{- define "surveyguard.managerRules" -}}
{{- $role := .Files.Get "files/manager-role.yaml" | fromYaml -}}
{{- toYaml $role.rules -}}
{{- end -}}

{{/* The holiday calendar's namespace and name, as a list; empty when unset. */}}
{{- define "surveyguard.holidayCalendar" -}}
{{- with .Values.holidayCalendar -}}
{{- if contains "/" . -}}{{ . }}{{- else -}}{{ $.Release.Namespace }}/{{ . }}{{- end -}}
{{- end -}}
{{- end -}}
