// The OpenTelemetry SDK behind tracing.ts, imported only when tracing is on (loading it costs
// startup time, measured in benches/tracing-startup): a tracer provider of its own (never the
// global one), the sampler by name, OTLP/HTTP export, and spans written after the fact.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import type { TracingPlan } from '../load/plan.js';
import { COG_NODE_VERSION } from '../version.js';
import type { SpanRecord, SpanWriter } from './tracing.js';

function samplerFor(name: string, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      // parentbased_always_off, Cog's default: continue sampled callers, start no trace of its own.
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
  }
}

/** A span writer exporting to the plan's collector. */
export function createSpanWriter(plan: Extract<TracingPlan, { enabled: true }>): SpanWriter {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': plan.serviceName,
      'service.version': COG_NODE_VERSION,
      'telemetry.sdk.language': 'nodejs',
    }),
    sampler: samplerFor(plan.sampler, plan.ratio),
    // Export within a second: a short-lived prediction server should not sit on its spans.
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: plan.url, headers: { ...plan.headers } }), { scheduledDelayMillis: 1000 }),
    ],
  });
  const tracer = provider.getTracer('cog-node', COG_NODE_VERSION);
  const propagator = new W3CTraceContextPropagator();

  function write(record: SpanRecord, parent: Context): void {
    const span: Span = tracer.startSpan(
      record.name,
      { startTime: record.start, kind: record.server ? SpanKind.SERVER : SpanKind.INTERNAL, attributes: record.attributes as Attributes },
      parent,
    );
    if (record.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: record.error });
    const context = trace.setSpan(parent, span);
    for (const child of record.children ?? []) write(child, context);
    span.end(record.end);
  }

  return {
    write(record, carrier) {
      const parent = carrier === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      write(record, parent);
    },
    shutdown: () => provider.shutdown(),
  };
}
