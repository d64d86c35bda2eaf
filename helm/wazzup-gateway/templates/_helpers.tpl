{{/* Names and labels. */}}

{{- define "wgw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wgw.fullname" -}}
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

{{/* A name derived from the full name, kept within 63 characters. */}}
{{- define "wgw.componentName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "wgw.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "wgw.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wgw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wgw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wgw.labels" -}}
helm.sh/chart: {{ include "wgw.chart" . }}
{{ include "wgw.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wazzup-gateway
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "wgw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wgw.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "wgw.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Shapes. */}}

{{- define "wgw.nats" -}}
{{- if eq .Values.config.events.backend "nats" }}true{{ end }}
{{- end }}

{{/* The drain and the grace period around it (seconds). */}}
{{- define "wgw.terminationGracePeriodSeconds" -}}
{{- $drain := int .Values.config.server.drainTimeoutSeconds }}
{{- $pause := int .Values.lifecycle.preStopSleepSeconds }}
{{- if kindIs "invalid" .Values.lifecycle.terminationGracePeriodSeconds }}
{{- add $pause $drain 10 }}
{{- else }}
{{- int .Values.lifecycle.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Checks that span several values; every template includes it, so `helm template` and `helm install`
fail with these messages before anything is applied.
*/}}
{{- define "wgw.validate" -}}
{{- $nats := include "wgw.nats" . }}
{{- if and (not $nats) (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount is %d, but the embedded event log (redb files on one volume) serves a single replica: a second replica would have its own log, cursors and idempotency records. Set config.events.backend=nats and nats.url to run several replicas on NATS JetStream, or keep replicaCount at 1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (not $nats) .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled needs config.events.backend=nats: the embedded event log serves a single replica." }}
{{- end }}
{{- if and $nats (not .Values.nats.url) }}
{{- fail "config.events.backend is nats but nats.url is empty: set the URL of your NATS JetStream servers, e.g. nats://nats.nats.svc.cluster.local:4222 (the chart does not install NATS)." }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas is above autoscaling.maxReplicas." }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.targetCPUUtilizationPercentage) (not .Values.autoscaling.targetMemoryUtilizationPercentage) }}
{{- fail "autoscaling.enabled needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage above 0." }}
{{- end }}
{{- $drain := int .Values.config.server.drainTimeoutSeconds }}
{{- $pause := int .Values.lifecycle.preStopSleepSeconds }}
{{- $grace := int (include "wgw.terminationGracePeriodSeconds" .) }}
{{- if le $grace (add $pause $drain) }}
{{- fail (printf "lifecycle.terminationGracePeriodSeconds (%d) must exceed lifecycle.preStopSleepSeconds + config.server.drainTimeoutSeconds (%d + %d), or Kubernetes kills the gateway while it drains." $grace $pause $drain) }}
{{- end }}
{{- if and .Values.persistence.existingClaim (not .Values.persistence.enabled) }}
{{- fail "persistence.existingClaim is set but persistence.enabled is false." }}
{{- end }}
{{- range $listener := list "grpc" "webhook" }}
{{- $tls := index $.Values.tls $listener }}
{{- if and $tls.enabled (not $tls.secretName) }}
{{- fail (printf "tls.%s.enabled needs tls.%s.secretName: the kubernetes.io/tls Secret holding its tls.crt and tls.key." $listener $listener) }}
{{- end }}
{{- end }}
{{- if and .Values.tls.grpc.clientCaSecretName (not .Values.tls.grpc.enabled) }}
{{- fail "tls.grpc.clientCaSecretName is set but tls.grpc.enabled is false: mutual TLS needs TLS." }}
{{- end }}
{{- range $index, $token := .Values.config.auth.tokens }}
{{- if and $token.clientCertNames (not $.Values.tls.grpc.clientCaSecretName) }}
{{- fail (printf "config.auth.tokens[%d] (%s) has clientCertNames, which need mutual TLS: set tls.grpc.enabled and tls.grpc.clientCaSecretName." $index $token.name) }}
{{- end }}
{{- end }}
{{- $names := dict }}
{{- range $index, $account := .Values.config.accounts }}
{{- if hasKey $names $account.name }}
{{- fail (printf "config.accounts[%d].name %q is used twice." $index $account.name) }}
{{- end }}
{{- $_ := set $names $account.name true }}
{{- end }}
{{- $_ := include "wgw.secretItems" . }}
{{- end }}

{{/*
Every secret file the gateway reads, as JSON {"items": [{path, key, source, value}]}: `path` is the
file name under secrets.mountPath (also the key in the chart's Secret), `key` the key in the Secret
it comes from, `source` "chart" (value given in values, stored in the chart's Secret) or "existing"
(secrets.existingSecret). Fails on contradictory or missing settings.
*/}}
{{- define "wgw.secretItems" -}}
{{- $items := list }}
{{- $existing := .Values.secrets.existingSecret }}
{{- $accountItems := list
      (list "apiKey" "api-key")
      (list "webhookSecret" "webhook-secret")
      (list "crmKey" "crm-key")
      (list "refreshToken" "refresh-token")
      (list "partnerCredentials" "partner-credentials") }}
{{- range $index, $account := .Values.config.accounts }}
{{- $values := $account.secrets | default dict }}
{{- $keys := $account.existingSecretKeys | default dict }}
{{- range $accountItems }}
{{- $field := index . 0 }}
{{- $path := printf "account.%s.%s" $account.name (index . 1) }}
{{- $value := index $values $field | default "" }}
{{- $key := index $keys $field | default "" }}
{{- if and $value $key }}
{{- fail (printf "config.accounts[%d] (%s): set secrets.%s or existingSecretKeys.%s, not both." $index $account.name $field $field) }}
{{- end }}
{{- if and $key (not $existing) }}
{{- fail (printf "config.accounts[%d] (%s): existingSecretKeys.%s names a key of secrets.existingSecret, which is empty." $index $account.name $field) }}
{{- end }}
{{- if $value }}
{{- $items = append $items (dict "path" $path "key" $path "source" "chart" "value" $value "account" $account.name "field" $field) }}
{{- else if $key }}
{{- $items = append $items (dict "path" $path "key" $key "source" "existing" "account" $account.name "field" $field) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $index, $token := .Values.config.auth.tokens }}
{{- $path := printf "token.%s" $token.name }}
{{- $value := $token.token | default "" }}
{{- $key := $token.existingSecretKey | default "" }}
{{- if and $value $key }}
{{- fail (printf "config.auth.tokens[%d] (%s): set token or existingSecretKey, not both." $index $token.name) }}
{{- end }}
{{- if and (not $value) (not $key) }}
{{- fail (printf "config.auth.tokens[%d] (%s): set token (stored in the chart's Secret) or existingSecretKey (a key of secrets.existingSecret)." $index $token.name) }}
{{- end }}
{{- if and $key (not $existing) }}
{{- fail (printf "config.auth.tokens[%d] (%s): existingSecretKey names a key of secrets.existingSecret, which is empty." $index $token.name) }}
{{- end }}
{{- if $value }}
{{- $items = append $items (dict "path" $path "key" $path "source" "chart" "value" $value "token" $token.name) }}
{{- else }}
{{- $items = append $items (dict "path" $path "key" $key "source" "existing" "token" $token.name) }}
{{- end }}
{{- end }}
{{- if include "wgw.nats" . }}
{{- $keys := .Values.nats.existingSecretKeys | default dict }}
{{- range $field := list "password" "token" "credentials" }}
{{- $path := printf "nats.%s" $field }}
{{- $value := index $.Values.nats $field | default "" }}
{{- $key := index $keys $field | default "" }}
{{- if and $value $key }}
{{- fail (printf "nats: set %s or existingSecretKeys.%s, not both." $field $field) }}
{{- end }}
{{- if and $key (not $existing) }}
{{- fail (printf "nats.existingSecretKeys.%s names a key of secrets.existingSecret, which is empty." $field) }}
{{- end }}
{{- if $value }}
{{- $items = append $items (dict "path" $path "key" $path "source" "chart" "value" $value "nats" $field) }}
{{- else if $key }}
{{- $items = append $items (dict "path" $path "key" $key "source" "existing" "nats" $field) }}
{{- end }}
{{- end }}
{{- end }}
{{- dict "items" $items | toJson }}
{{- end }}

{{/* The mounted path of one secret file. */}}
{{- define "wgw.secretPath" -}}
{{- printf "%s/%s" (trimSuffix "/" (index . 0).Values.secrets.mountPath) (index . 1) }}
{{- end }}

{{/* Whether the chart makes a Secret (some secret was given as a value). */}}
{{- define "wgw.chartSecret" -}}
{{- range (include "wgw.secretItems" . | fromJson).items }}
{{- if eq .source "chart" }}true{{ end }}
{{- end }}
{{- end }}

{{- define "wgw.secretName" -}}
{{- include "wgw.fullname" . }}
{{- end }}

{{/* One TOML value: strings and lists as JSON (valid TOML), whole numbers without a fraction. */}}
{{- define "wgw.tomlValue" -}}
{{- if kindIs "string" . }}
{{- toJson . }}
{{- else if kindIs "bool" . }}
{{- ternary "true" "false" . }}
{{- else if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) }}
{{- if eq (float64 .) (float64 (int64 .)) }}
{{- int64 . }}
{{- else }}
{{- . }}
{{- end }}
{{- else if kindIs "slice" . }}
{{- $parts := list }}
{{- range . }}
{{- $parts = append $parts (include "wgw.tomlValue" .) }}
{{- end }}
{{- printf "[%s]" (join ", " $parts) }}
{{- else }}
{{- fail (printf "cannot render %v (%s) as a TOML value" . (kindOf .)) }}
{{- end }}
{{- end }}

{{/*
`key = value` lines of a values map, keys turned into snake_case; empty strings and nulls are left
out (the gateway's default applies), false and 0 are kept.
*/}}
{{- define "wgw.tomlKeys" -}}
{{- range $key, $value := . }}
{{- if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) }}
{{ snakecase $key }} = {{ include "wgw.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The environment that points the gateway at the mounted TLS files, one entry per file.
*/}}
{{- define "wgw.tlsEnv" -}}
{{- $path := .Values.tls.mountPath }}
{{- with .Values.tls.grpc }}
{{- if .enabled }}
- name: WGW_GRPC_TLS_CERT_FILE
  value: {{ printf "%s/grpc/tls.crt" $path | quote }}
- name: WGW_GRPC_TLS_KEY_FILE
  value: {{ printf "%s/grpc/tls.key" $path | quote }}
{{- if .clientCaSecretName }}
- name: WGW_GRPC_TLS_CLIENT_CA_FILE
  value: {{ printf "%s/grpc-client-ca/%s" $path .clientCaKey | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.tls.webhook.enabled }}
- name: WGW_WEBHOOK_TLS_CERT_FILE
  value: {{ printf "%s/webhook/tls.crt" $path | quote }}
- name: WGW_WEBHOOK_TLS_KEY_FILE
  value: {{ printf "%s/webhook/tls.key" $path | quote }}
{{- end }}
{{- end }}

{{/*
The TLS Secrets as volumes (name, Secret, mount folder): whole Secrets, not subPath mounts, so the
kubelet's updates reach the files the gateway re-reads.
*/}}
{{- define "wgw.tlsVolumes" -}}
{{- $volumes := list }}
{{- if .Values.tls.grpc.enabled }}
{{- $volumes = append $volumes (dict "name" "tls-grpc" "secret" .Values.tls.grpc.secretName "folder" "grpc") }}
{{- if .Values.tls.grpc.clientCaSecretName }}
{{- $volumes = append $volumes (dict "name" "tls-grpc-client-ca" "secret" .Values.tls.grpc.clientCaSecretName "folder" "grpc-client-ca") }}
{{- end }}
{{- end }}
{{- if .Values.tls.webhook.enabled }}
{{- $volumes = append $volumes (dict "name" "tls-webhook" "secret" .Values.tls.webhook.secretName "folder" "webhook") }}
{{- end }}
{{- toJson (dict "volumes" $volumes) }}
{{- end }}
