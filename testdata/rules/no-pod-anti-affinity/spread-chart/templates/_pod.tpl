{{- define "web.pod" -}}
containers:
- name: web
  image: example.com/web:1
{{- with .Values.web.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
