{{/* The pod template shared by the StatefulSet (embedded) and the Deployment (NATS). */}}
{{- define "wgw.podTemplate" -}}
{{- $items := (include "wgw.secretItems" . | fromJson).items }}
{{- $nats := include "wgw.nats" . -}}
{{- $tlsEnv := include "wgw.tlsEnv" . | fromYamlArray }}
{{- $tlsVolumes := (include "wgw.tlsVolumes" . | fromJson).volumes }}
metadata:
  labels:
    {{- include "wgw.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Roll the pods when the configuration or the chart's Secret changes.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if include "wgw.chartSecret" . }}
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "wgw.serviceAccountName" . }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ include "wgw.terminationGracePeriodSeconds" . }}
  containers:
    - name: gateway
      image: {{ include "wgw.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - serve
        - --config
        - /etc/wazzup-gateway/gateway.toml
        {{- if .Values.config.sandbox }}
        - --sandbox
        {{- end }}
      ports:
        - name: grpc
          containerPort: {{ .Values.containerPorts.grpc }}
          protocol: TCP
        - name: webhook
          containerPort: {{ .Values.containerPorts.webhook }}
          protocol: TCP
        - name: admin
          containerPort: {{ .Values.containerPorts.admin }}
          protocol: TCP
      {{- with concat $tlsEnv .Values.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.probes.startup }}
      {{- if .enabled }}
      startupProbe:
        httpGet:
          path: /healthz
          port: admin
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
      {{- end }}
      {{- end }}
      {{- with .Values.probes.liveness }}
      {{- if .enabled }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: admin
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
      {{- end }}
      {{- end }}
      {{- with .Values.probes.readiness }}
      {{- if .enabled }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: admin
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
        successThreshold: {{ .successThreshold }}
      {{- end }}
      {{- end }}
      {{- if gt (int .Values.lifecycle.preStopSleepSeconds) 0 }}
      lifecycle:
        preStop:
          sleep:
            seconds: {{ int .Values.lifecycle.preStopSleepSeconds }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/wazzup-gateway
          readOnly: true
        {{- if $items }}
        - name: secrets
          mountPath: {{ .Values.secrets.mountPath }}
          readOnly: true
        {{- end }}
        - name: data
          mountPath: {{ .Values.persistence.mountPath }}
        - name: tmp
          mountPath: /tmp
        {{- range $tlsVolumes }}
        - name: {{ .name }}
          mountPath: {{ printf "%s/%s" $.Values.tls.mountPath .folder }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "wgw.fullname" . }}
    {{- if $items }}
    - name: secrets
      projected:
        # 0440: readable by the pod's fsGroup, which the gateway runs as.
        defaultMode: 288
        sources:
          {{- if include "wgw.chartSecret" . }}
          - secret:
              name: {{ include "wgw.secretName" . }}
              items:
                {{- range $items }}
                {{- if eq .source "chart" }}
                - key: {{ .key }}
                  path: {{ .path }}
                {{- end }}
                {{- end }}
          {{- end }}
          {{- if .Values.secrets.existingSecret }}
          - secret:
              name: {{ .Values.secrets.existingSecret }}
              items:
                {{- range $items }}
                {{- if eq .source "existing" }}
                - key: {{ .key }}
                  path: {{ .path }}
                {{- end }}
                {{- end }}
          {{- end }}
    {{- end }}
    {{- if or $nats (not .Values.persistence.enabled) }}
    - name: data
      emptyDir: {}
    {{- else if .Values.persistence.existingClaim }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ .Values.persistence.existingClaim }}
    {{- end }}
    - name: tmp
      emptyDir:
        {{- with .Values.tmp.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- range $tlsVolumes }}
    - name: {{ .name }}
      secret:
        secretName: {{ .secret }}
        # 0440: readable by the pod's fsGroup, which the gateway runs as.
        defaultMode: 288
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $spread := list }}
  {{- if and $nats .Values.topologySpread.enabled }}
  {{- range .Values.topologySpread.topologyKeys }}
  {{- $spread = append $spread (dict "maxSkew" (int $.Values.topologySpread.maxSkew) "topologyKey" . "whenUnsatisfiable" $.Values.topologySpread.whenUnsatisfiable "labelSelector" (dict "matchLabels" (include "wgw.selectorLabels" $ | fromYaml)) "matchLabelKeys" (list "pod-template-hash")) }}
  {{- end }}
  {{- end }}
  {{- $spread = concat $spread .Values.topologySpreadConstraints }}
  {{- with $spread }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
