/**
 * L-BFGS (torch.optim.LBFGS): quasi-Newton steps over all parameters flattened into one vector,
 * the direction from the two-loop recursion over the last historySize curvature pairs, with a
 * fixed step lr or a strong-Wolfe line search (cubic interpolation). step(closure) re-evaluates
 * the loss as often as the iterations and the line search need. Vectors stay in the parameters'
 * dtype and device, as torch's; the scalars (dot products, step sizes) are JS doubles.
 */
import { enableGrad, noGrad } from '../autograd/grad_mode';
import { zeros } from '../creation';
import { KilnError } from '../errors';
import { keep, scope } from '../memory';
import { cat } from '../ops/indexing';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { num, strongWolfe, type Eval } from './strong_wolfe';
import { Optimizer, type OptimizerStateDict, type ParamGroup, type ParamsArg, type ParamState } from './optimizer';

export interface LBFGSOptions {
  /** Step size (default 1). */
  lr: number;
  /** Iterations per step() (default 20). */
  maxIter: number;
  /** Loss evaluations per step() (default floor(maxIter * 5 / 4)). */
  maxEval: number;
  /** Stop when the largest gradient element is at most this (default 1e-7). */
  toleranceGrad: number;
  /** Stop when the loss or the parameters change by less than this (default 1e-9). */
  toleranceChange: number;
  /** Curvature pairs kept (default 100). */
  historySize: number;
  /** null (a fixed step of lr) or 'strong_wolfe'. */
  lineSearchFn: 'strong_wolfe' | null;
}

/** torch's per-optimizer state (kept on the first parameter), with its key names; scalars are numbers. */
interface LState {
  func_evals: number;
  n_iter: number;
  d?: Tensor;
  t?: number;
  old_dirs?: Tensor[];
  old_stps?: Tensor[];
  ro?: number[];
  H_diag?: number;
  prev_flat_grad?: Tensor;
  prev_loss?: number;
  al?: (number | null)[];
}

type Closure = () => Tensor;
const toNumber = (l: unknown): number => (l instanceof Tensor ? Number(l.item()) : Number(l));

function bad(what: string, v: unknown): never {
  throw new KilnError('ERR_ARG', `LBFGS: invalid ${what} ${JSON.stringify(v)}`);
}

/**
 * L-BFGS over one parameter group (torch.optim.LBFGS). step(closure) calls the closure, which
 * clears the gradients, computes the loss, calls backward() and returns the loss; it returns the
 * first loss. State (torch's keys: func_evals, n_iter, d, t, old_dirs, old_stps, ro, H_diag,
 * prev_flat_grad, prev_loss, al) lives on the first parameter; stateDict() returns copies.
 * @example
 * const opt = new optim.LBFGS(model.parameters(), { lineSearchFn: 'strong_wolfe' });
 * for (let i = 0; i < 10; i++)
 *   opt.step(() => { opt.zeroGrad(); const l = lossFn(model.forward(x), y); l.backward(); return l; });
 */
export class LBFGS extends Optimizer<LBFGSOptions> {
  protected readonly kind = -1;
  protected get name(): string {
    return 'LBFGS';
  }

  constructor(params: ParamsArg<LBFGSOptions>, opts: Partial<LBFGSOptions> = {}) {
    const maxIter = opts.maxIter ?? 20;
    super(params, {
      lr: 1,
      maxIter,
      maxEval: Math.floor((maxIter * 5) / 4),
      toleranceGrad: 1e-7,
      toleranceChange: 1e-9,
      historySize: 100,
      lineSearchFn: null,
      ...opts,
    });
  }

  /** LBFGS takes a single group (torch raises on a second). */
  override addParamGroup(group: Partial<LBFGSOptions> & { params: Iterable<Tensor> }): void {
    if (this.paramGroups.length > 0)
      throw new KilnError('ERR_ARG', "LBFGS doesn't support per-parameter options (parameter groups)");
    super.addParamGroup(group);
  }

  protected validate(g: ParamGroup<LBFGSOptions>): void {
    const pos = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0;
    if (!pos(g.lr)) bad('lr', g.lr);
    if (!Number.isInteger(g.maxIter) || g.maxIter < 1) bad('maxIter', g.maxIter);
    if (!Number.isInteger(g.maxEval) || g.maxEval < 1) bad('maxEval', g.maxEval);
    if (!pos(g.toleranceGrad)) bad('toleranceGrad', g.toleranceGrad);
    if (!pos(g.toleranceChange)) bad('toleranceChange', g.toleranceChange);
    if (!Number.isInteger(g.historySize) || g.historySize < 1) bad('historySize', g.historySize);
    if (g.lineSearchFn === undefined) g.lineSearchFn = null;
    if (g.lineSearchFn !== null && g.lineSearchFn !== 'strong_wolfe')
      bad("lineSearchFn (only 'strong_wolfe' or null)", g.lineSearchFn);
  }
  protected hyper(): number[] {
    return [];
  }
  protected buffers(): (string | null)[] {
    return [];
  }

  private get params(): Tensor[] {
    return this.paramGroups[0].params;
  }
  private get lstate(): LState | undefined {
    return this.state.get(this.params[0]) as unknown as LState | undefined;
  }
  private get numel(): number {
    return this.params.reduce((s, p) => s + p.numel(), 0);
  }

  /** All gradients as one vector (zeros where a parameter has none), a new tensor. */
  private gatherFlatGrad(): Tensor {
    const views = this.params.map((p) =>
      p.grad ? p.grad.to(p.dtype).reshape([p.numel()]) : zeros([p.numel()], { dtype: p.dtype, device: p.device }),
    );
    return views.length === 1 ? views[0].clone() : cat(views);
  }
  /** params += t * d, d split by parameter. */
  private addGrad(t: number, d: Tensor): void {
    scope(() => {
      let off = 0;
      for (const p of this.params) {
        const n = p.numel();
        p.add_(
          d
            .slice(0, off, off + n)
            .reshape(p.shape.slice())
            .mul(t),
        );
        off += n;
      }
    });
  }
  /** Calls the closure with gradients on; the loss as a number and the flat gradient (in the caller's scope). */
  private evaluate(closure: Closure): Eval {
    return scope(() => {
      const f = toNumber(enableGrad(closure));
      return { f, g: this.gatherFlatGrad() };
    });
  }

  /**
   * Up to maxIter L-BFGS iterations; `closure` re-evaluates the loss with backward() and returns it.
   * Returns the loss of the first evaluation.
   */
  override step(closure?: Closure): Tensor {
    if (typeof closure !== 'function')
      throw new KilnError('ERR_ARG', 'LBFGS.step: needs a closure that re-evaluates the loss and returns it');
    return noGrad(() => this.run(closure));
  }

  private run(closure: Closure): Tensor {
    const g = this.paramGroups[0];
    const { lr, maxIter, maxEval, toleranceGrad, toleranceChange, lineSearchFn, historySize } = g;
    const old: LState = this.lstate ?? { func_evals: 0, n_iter: 0 };
    const oldTensors = new Set(stateTensors(old));
    // Tensors kept past the step's scopes: the ones this step made are freed as soon as they are
    // replaced; the previous state's only once the new state is in place.
    const made = new Set<Tensor>();
    const retired: Tensor[] = [];
    const hold = (t: Tensor): Tensor => (made.add(keep(t)), t);
    const retire = (t: Tensor | undefined): void => {
      if (!t) return;
      if (made.delete(t)) t.dispose();
      else if (oldTensors.has(t)) retired.push(t);
    };

    let funcEvals = old.func_evals,
      stateIter = old.n_iter;
    const [origLoss, g0] = scope(() => {
      const l = enableGrad(closure);
      return [l, this.gatherFlatGrad()] as const;
    });
    let loss = toNumber(origLoss);
    let flatGrad = hold(g0);
    let currentEvals = 1;
    funcEvals += 1;
    try {
      let optCond = num(() => flatGrad.abs().max()) <= toleranceGrad;
      if (optCond) {
        this.save({ ...old, func_evals: funcEvals }, made, retired);
        return origLoss;
      }
      let d = old.d,
        t = old.t ?? lr,
        HDiag = old.H_diag ?? 1,
        prevFlatGrad = old.prev_flat_grad,
        prevLoss = old.prev_loss;
      let oldDirs = old.old_dirs?.slice() ?? [],
        oldStps = old.old_stps?.slice() ?? [],
        ro = old.ro?.slice() ?? [];
      let al = old.al?.slice();

      let nIter = 0;
      while (nIter < maxIter) {
        nIter += 1;
        stateIter += 1;
        // The descent direction.
        if (stateIter === 1) {
          retire(d);
          d = hold(flatGrad.neg());
          oldDirs.forEach(retire);
          oldStps.forEach(retire);
          [oldDirs, oldStps, ro, HDiag] = [[], [], [], 1];
        } else {
          const next = scope(() => {
            const y = flatGrad.sub(prevFlatGrad!);
            const s = d!.mul(t);
            const ys = Number(y.dot(s).item());
            if (ys > 1e-10) {
              // Update the memory.
              if (oldDirs.length === historySize) {
                retire(oldDirs.shift());
                retire(oldStps.shift());
                ro.shift();
              }
              oldDirs.push(hold(y));
              oldStps.push(hold(s));
              ro.push(1 / ys);
              HDiag = ys / Number(y.dot(y).item());
            }
            // Two-loop recursion: q = -H g.
            al ??= new Array<number | null>(historySize).fill(null);
            const n = oldDirs.length;
            const q = flatGrad.neg();
            for (let i = n - 1; i >= 0; i--) {
              al[i] = Number(oldStps[i].dot(q).item()) * ro[i];
              q.sub_(oldDirs[i].mul(al[i]!));
            }
            const r = q.mul(HDiag);
            for (let i = 0; i < n; i++) {
              const be = Number(oldDirs[i].dot(r).item()) * ro[i];
              r.add_(oldStps[i].mul(al[i]! - be));
            }
            return r;
          });
          retire(d);
          d = hold(next);
        }
        if (prevFlatGrad && made.has(prevFlatGrad)) prevFlatGrad.copy_(flatGrad);
        else {
          retire(prevFlatGrad);
          prevFlatGrad = hold(flatGrad.clone());
        }
        prevLoss = loss;

        // The step size: lr, but at most 1 / |g|_1 of it on the very first iteration.
        t = stateIter === 1 ? Math.min(1, 1 / num(() => flatGrad.abs().sum())) * lr : lr;
        const gtd = num(() => flatGrad.dot(d!));
        if (gtd > -toleranceChange) break; // not a descent direction

        let lsEvals = 0;
        if (lineSearchFn === 'strong_wolfe') {
          const dir = d;
          const ls = scope(() => {
            const x = this.params.map((p) => p.clone());
            const obj = (tt: number): Eval => {
              this.addGrad(tt, dir);
              const e = this.evaluate(closure);
              this.params.forEach((p, i) => p.copy_(x[i]));
              return e;
            };
            return strongWolfe(obj, t, dir, loss, flatGrad, gtd, toleranceChange);
          });
          retire(flatGrad);
          [loss, flatGrad, t, lsEvals] = [ls.f, hold(ls.g), ls.t, ls.evals];
          this.addGrad(t, d);
          optCond = num(() => flatGrad.abs().max()) <= toleranceGrad;
        } else {
          this.addGrad(t, d);
          if (nIter !== maxIter) {
            // Re-evaluate unless this is the last iteration (no need for the gradient then).
            const e = this.evaluate(closure);
            retire(flatGrad);
            [loss, flatGrad] = [e.f, hold(e.g)];
            optCond = num(() => flatGrad.abs().max()) <= toleranceGrad;
            lsEvals = 1;
          }
        }
        currentEvals += lsEvals;
        funcEvals += lsEvals;

        if (nIter === maxIter || currentEvals >= maxEval || optCond) break;
        if (num(() => d!.mul(t).abs().max()) <= toleranceChange) break; // lack of progress
        if (Math.abs(loss - prevLoss) < toleranceChange) break;
      }
      retire(flatGrad);
      const st: LState = {
        func_evals: funcEvals,
        n_iter: stateIter,
        d,
        t,
        old_dirs: oldDirs,
        old_stps: oldStps,
        ro,
        H_diag: HDiag,
        prev_flat_grad: prevFlatGrad,
        prev_loss: prevLoss,
      };
      if (al) st.al = al;
      this.save(st, made, retired);
      return origLoss;
    } catch (e) {
      for (const x of made) x.dispose();
      throw e;
    }
  }

  /** Installs the new state and frees what neither it nor the caller holds. */
  private save(st: LState, made: Set<Tensor>, retired: Tensor[]): void {
    const live = new Set(stateTensors(st));
    for (const x of made) if (!live.has(x)) x.dispose();
    for (const x of retired) if (!live.has(x)) x.dispose();
    this.state.set(this.params[0], st as unknown as ParamState);
  }

  /** Frees the state tensors now. */
  override dispose(): void {
    const st = this.lstate;
    if (st) for (const x of stateTensors(st)) x.dispose();
    this.state.clear();
  }

  /** torch's layout (state 0 with torch's keys, one group); tensors are copies, so later steps leave it intact. */
  override stateDict(): OptimizerStateDict {
    const { params, ...rest } = this.paramGroups[0];
    const state: Record<number, unknown> = {};
    const st = this.lstate;
    if (st) state[0] = copyState(st, (x) => x.clone());
    return { state: state as OptimizerStateDict['state'], paramGroups: [{ ...rest, params: params.map((_, i) => i) }] };
  }

  /** Restores a stateDict() of an LBFGS over parameters of the same sizes. */
  override loadStateDict(sd: OptimizerStateDict): void {
    if (sd.paramGroups.length !== 1)
      throw new KilnError('ERR_STATE_DICT', `LBFGS.loadStateDict: ${sd.paramGroups.length} groups saved, 1 here`);
    const ids = sd.paramGroups[0].params as number[];
    if (!Array.isArray(ids) || ids.length !== this.params.length)
      throw new KilnError(
        'ERR_STATE_DICT',
        `LBFGS.loadStateDict: ${ids?.length} parameters saved, ${this.params.length} here`,
      );
    const keys = Object.keys(sd.state);
    if (keys.some((k) => k !== String(ids[0])))
      throw new KilnError('ERR_STATE_DICT', `LBFGS.loadStateDict: state for parameters ${keys.join(', ')}`);
    const saved = (sd.state as Record<number, unknown>)[ids[0]] as LState | undefined;
    const n = this.numel,
      p0 = this.params[0];
    let st: LState | undefined;
    if (saved) {
      for (const x of stateTensors(saved))
        if (x.shape.length !== 1 || x.shape[0] !== n)
          throw new KilnError(
            'ERR_STATE_DICT',
            `LBFGS.loadStateDict: a saved vector is ${shapeStr(x.shape)}, the parameters have ${n} elements`,
          );
      st = noGrad(() => copyState(saved, (x) => keep(x.to(p0.device).to(p0.dtype).clone())));
    }
    const { params: _ids, ...rest } = sd.paramGroups[0];
    const g = { ...this.paramGroups[0], ...rest } as ParamGroup<LBFGSOptions>;
    this.validate(g);
    this.dispose();
    this.paramGroups[0] = g;
    if (st) this.state.set(p0, st as unknown as ParamState);
  }
}

function stateTensors(st: LState): Tensor[] {
  const out: Tensor[] = [];
  for (const v of Object.values(st))
    if (v instanceof Tensor) out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (x instanceof Tensor) out.push(x);
  return out;
}

function copyState(st: LState, copy: (x: Tensor) => Tensor): LState {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(st))
    out[k] = v instanceof Tensor ? copy(v) : Array.isArray(v) ? v.map((x) => (x instanceof Tensor ? copy(x) : x)) : v;
  return out as unknown as LState;
}
