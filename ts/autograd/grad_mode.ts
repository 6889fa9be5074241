/** Whether ops record autograd nodes (kiln.noGrad / kiln.enableGrad switch it). */
export const gradMode = { enabled: true };

function scoped<T>(enabled: boolean, fn: () => T): T {
  const prev = gradMode.enabled;
  gradMode.enabled = enabled;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    gradMode.enabled = prev;
    throw e;
  }
  if (result instanceof Promise) {
    // Async work keeps the mode until it settles (shared with other async work running meanwhile).
    return result.finally(() => {
      gradMode.enabled = prev;
    }) as unknown as T;
  }
  gradMode.enabled = prev;
  return result;
}

/**
 * Runs fn without recording gradients (like `with torch.no_grad()`).
 * @example
 * const y = kiln.noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  return scoped(false, fn);
}

/** torch.inference_mode: the same as noGrad here (kiln's noGrad already records nothing for autograd). */
export const inferenceMode = noGrad;

/** Runs fn with gradient recording on (inside noGrad). */
export function enableGrad<T>(fn: () => T): T {
  return scoped(true, fn);
}

export function isGradEnabled(): boolean {
  return gradMode.enabled;
}
