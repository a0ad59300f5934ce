/**
 * Redaction for anything written to logs or reports: no secrets in reports. Kubeconfig-style
 * credentials, bearer tokens, PEM private keys, client certificates and passwords in URLs are masked.
 */
const PATTERNS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED PRIVATE KEY]'],
  // YAML/flag form (token: abc, password=abc) and JSON form ("token": "abc").
  [
    /((?:client-key-data|client-certificate-data|token|password)"?\s*[:=]\s*)("?)[^\s"]+\2/gi,
    '$1$2[REDACTED]$2',
  ],
  [/(authorization:\s*bearer\s+)\S+/gi, '$1[REDACTED]'],
  [/(--token(?:=|\s+))\S+/g, '$1[REDACTED]'],
  // Credentials inside a URL: scheme://user:password@host → scheme://[REDACTED]@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, '$1[REDACTED]@'],
];

export function redact(text: string): string {
  let out = text;
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return out;
}
