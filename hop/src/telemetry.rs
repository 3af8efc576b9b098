//! OpenTelemetry: one tracer and one propagator set per process.
//!
//! Spans are made only when OTEL_EXPORTER_OTLP_ENDPOINT is set; without it the
//! hop skips span work entirely (the benchmark path) and forwards the trace
//! headers verbatim instead (see [`crate::headers`]).

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_propagator_b3::{B3Encoding, Propagator as B3Propagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::HopConfig;

/// The process's telemetry; cheap to share by reference.
pub struct Telemetry {
    tracing: Option<(SdkTracerProvider, SdkTracer)>,
    propagator: TextMapCompositePropagator,
}

impl Telemetry {
    /// Sets up export when the configuration asks for it. Must run inside the
    /// Tokio runtime: the OTLP/gRPC exporter's channel lives there.
    pub fn init(config: &HopConfig) -> Result<Telemetry, String> {
        let mut telemetry = Telemetry::off();
        if config.otlp_endpoint.is_none() {
            return Ok(telemetry);
        }
        // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS, _TIMEOUT)
        // itself; the batch processor reads OTEL_BSP_*; the sampler OTEL_TRACES_SAMPLER.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| {
                format!("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter: {e}")
            })?;
        let mut resource = Resource::builder();
        // OTEL_SERVICE_NAME wins when set (the SDK reads it); otherwise the hop's name.
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(config.service.clone());
        }
        resource =
            resource.with_attribute(KeyValue::new("service.version", config.version.clone()));
        if let Some(pod) = &config.pod {
            // OpenTelemetry's Kubernetes semantic convention.
            resource = resource.with_attribute(KeyValue::new("k8s.pod.name", pod.clone()));
        }
        let resource = resource.build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("chain");
        telemetry.tracing = Some((provider, tracer));
        Ok(telemetry)
    }

    /// No export, no spans.
    pub fn off() -> Telemetry {
        // Order matters on extraction: later propagators win, so W3C (what
        // Envoy's OpenTelemetry provider sends) overrides B3 when both came.
        let propagator = TextMapCompositePropagator::new(vec![
            Box::new(B3Propagator::with_encoding(
                B3Encoding::SingleAndMultiHeader,
            )),
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]);
        Telemetry {
            tracing: None,
            propagator,
        }
    }

    /// Whether spans are made (and trace headers rewritten from them).
    pub fn enabled(&self) -> bool {
        self.tracing.is_some()
    }

    /// Starts a span as a child of `parent` and returns the context holding
    /// it; with tracing off, returns `parent` unchanged (no work at all).
    /// `attributes` is only called when a span is really made.
    pub fn start(
        &self,
        parent: &Context,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Context {
        match &self.tracing {
            None => parent.clone(),
            Some((_, tracer)) => {
                let span = tracer
                    .span_builder(name)
                    .with_kind(kind)
                    .with_attributes(attributes())
                    .start_with_context(tracer, parent);
                parent.with_span(span)
            }
        }
    }

    /// An internal child span (the work spans).
    pub fn child(&self, parent: &Context, name: &'static str) -> Context {
        self.start(parent, name, SpanKind::Internal, Vec::new)
    }

    /// The server span's parent: the trace context the request carried
    /// (W3C, B3 or both; baggage too). Empty when tracing is off.
    pub fn extract(&self, headers: &HeaderMap) -> Context {
        if self.tracing.is_none() {
            return Context::new();
        }
        self.propagator.extract(&HeaderExtractor(headers))
    }

    /// Writes the trace context of `cx` (the hop's client span) into the
    /// outgoing headers. Nothing when tracing is off.
    pub fn inject(&self, cx: &Context, headers: &mut HeaderMap) {
        if self.tracing.is_some() {
            self.propagator
                .inject_context(cx, &mut HeaderInjector(headers));
        }
    }

    /// Exports what is still buffered; call once before exit. Blocking.
    pub fn shutdown(&self) {
        if let Some((provider, _)) = &self.tracing
            && let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5))
        {
            eprintln!("telemetry: flushing spans failed: {e}");
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_does_nothing() {
        let t = Telemetry::off();
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        assert!(!t.extract(&h).span().span_context().is_valid());
        let mut out = HeaderMap::new();
        t.inject(&Context::new(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn propagators_read_w3c_and_b3_and_write_both() {
        let t = Telemetry::off();
        let mut h = HeaderMap::new();
        h.insert(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
                .parse()
                .unwrap(),
        );
        let cx = t.propagator.extract(&HeaderExtractor(&h));
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id().to_string(),
            "80f198ee56343ba864fe8b2a57d3eff7"
        );
        h.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        let cx = t.propagator.extract(&HeaderExtractor(&h));
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let mut out = HeaderMap::new();
        t.propagator
            .inject_context(&cx, &mut HeaderInjector(&mut out));
        for name in [
            "traceparent",
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-sampled",
        ] {
            assert!(out.contains_key(name), "{name} missing in {out:?}");
        }
    }
}
