{{- define "server.labels" -}}
app.kubernetes.io/name: guard-server
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
