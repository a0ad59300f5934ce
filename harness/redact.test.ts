import { describe, expect, it } from 'vitest';
import { redact } from './redact.ts';

describe('redact', () => {
  it('masks a password inside a URL, keeping the host', () => {
    expect(redact('--repo https://user:s3cret@charts.example.com/istio')).toBe(
      '--repo https://[REDACTED]@charts.example.com/istio',
    );
    expect(redact('oci://robot:tok@registry.example.com/x')).toBe('oci://[REDACTED]@registry.example.com/x');
  });
  it('masks tokens in YAML, flag and JSON forms', () => {
    expect(redact('token: abc.def')).toBe('token: [REDACTED]');
    expect(redact('{"token": "abc.def", "user": "x"}')).toBe('{"token": "[REDACTED]", "user": "x"}');
    expect(redact('"password":"s3cret"')).toBe('"password":"[REDACTED]"');
  });
  it('leaves URLs without credentials alone', () => {
    expect(redact('https://blob.istio.io/istio-release/charts')).toBe(
      'https://blob.istio.io/istio-release/charts',
    );
    expect(redact('docker.io/istio/pilot:1.28.3@sha256:abc')).toBe('docker.io/istio/pilot:1.28.3@sha256:abc');
  });
});
