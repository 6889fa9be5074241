// Runs code with one environment variable set, for switches the native side reads per call
// (KILN_CONV_WINOGRAD, KILN_CONV_IMAGE_BATCH).

/** Runs f with process.env[name] set to `value` (undefined: unset), restoring it after. */
export function withEnv<T>(name: string, value: string | undefined, f: () => T): T {
  const prev = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return f();
  } finally {
    if (prev === undefined) delete process.env[name];
    else process.env[name] = prev;
  }
}
