{{/*
Labels of an object, as a YAML map: the release's shared labels, the ApplySet
membership, `app` and `app.kubernetes.io/name` when .app is set, and .extra.
Call with (dict "root" $ "app" NAME "extra" DICT).
*/}}
{{- define "meshgen-bench.labels" -}}
{{- $l := dict "app.kubernetes.io/managed-by" .root.Release.Service "app.kubernetes.io/part-of" .root.Release.Name -}}
{{- with .root.Values.applyset }}{{ $_ := set $l "applyset.kubernetes.io/part-of" . }}{{ end -}}
{{- with .app }}{{ $_ := set $l "app" . }}{{ $_ := set $l "app.kubernetes.io/name" . }}{{ end -}}
{{- toYaml (merge $l (.extra | default dict)) -}}
{{- end -}}

{{/* The service the ingress gateway sends to. */}}
{{- define "meshgen-bench.entry" -}}
{{- .Values.ingress.service | default (first .Values.services).name -}}
{{- end -}}

{{/* How long a hop waits for its upstream: the whole retry budget, (attempts + 1) x perTryTimeout. */}}
{{- define "meshgen-bench.upstreamTimeout" -}}
{{- with .Values.routing.retries -}}
{{ mul (add1 .attempts) (trimSuffix "s" .perTryTimeout | int) }}s
{{- else -}}
2s
{{- end -}}
{{- end -}}

{{/* Retries and fault of one HTTP route of service .svc. */}}
{{- define "meshgen-bench.routePolicy" -}}
{{- with .root.Values.routing.retries }}
retries:
  attempts: {{ .attempts }}
  perTryTimeout: {{ .perTryTimeout }}
  retryOn: 5xx,connect-failure,refused-stream
{{- end }}
{{- with .svc.fault }}
fault:
  {{- with .abort }}
  abort:
    httpStatus: {{ .httpStatus | default 503 }}
    percentage:
      value: {{ .percent }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
The HTTP routes of service .svc (a VirtualService's `http`): its canary header
match first, then the weighted split over its versions.
*/}}
{{- define "meshgen-bench.routes" -}}
{{- $host := printf "%s.%s.svc.cluster.local" .svc.name .root.Release.Namespace -}}
{{- $policy := include "meshgen-bench.routePolicy" . -}}
{{- with .svc.canary }}
- name: match-{{ .header }}
  match:
  - headers:
      {{ .header }}:
        exact: {{ .value | quote }}
  route:
  - destination:
      host: {{ $host }}
      port:
        number: 80
      subset: {{ .subset }}
  {{- $policy | nindent 2 }}
{{- end }}
- name: default
  route:
  {{- $weights := .svc.weights | default (dict .root.Values.routing.defaultSubset 100) }}
  {{- range $v := .svc.versions | default (list .root.Values.routing.defaultSubset) }}
  {{- with index $weights $v }}
  - destination:
      host: {{ $host }}
      port:
        number: 80
      subset: {{ $v }}
    weight: {{ . }}
  {{- end }}
  {{- end }}
  {{- $policy | nindent 2 }}
{{- end -}}
