{{- define "hook.labels" -}}
app: {{ .Release.Name }}-hook
{{- end }}

{{- define "hook.container" -}}
- name: server
  image: {{ .Values.image }}
  ports:
  - containerPort: 9443
  readinessProbe:
    httpGet: {path: /readyz, port: 9443, scheme: HTTPS}
{{- end }}
