/**
 * The optimizer base (torch.optim.Optimizer): parameter groups with their own hyperparameters,
 * per-parameter state, zeroGrad, and stateDict()/loadStateDict() in PyTorch's layout (state keyed
 * by the parameter's index across groups). Subclasses declare their state buffers and scalars;
 * step() hands each group to one fused native call (kiln_optim_step), so the hot path has no
 * per-tensor op dispatch.
 */
import { noGrad } from '../autograd/grad_mode';
import { zeros } from '../creation';
import { DTYPE_IDS, ITEMSIZE } from '../dtype';
import { KilnError, STATUS_CODES } from '../errors';
import { keep } from '../memory';
import { native } from '../native';
import { bumpVersion } from '../ops/kinds';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';

export type Hyper = object;
export type ParamGroup<O extends Hyper> = O & { params: Tensor[] };
export type ParamsArg<O extends Hyper> = Iterable<Tensor> | (Partial<O> & { params: Iterable<Tensor> })[];

/** One parameter's state: its step count and named buffers (PyTorch's names). */
export interface ParamState {
  step: number;
  [buffer: string]: Tensor | number;
}

export interface OptimizerStateDict {
  state: Record<number, Record<string, Tensor | number>>;
  paramGroups: Record<string, unknown>[];
}

const addr = (t: Tensor): number => t._storage.addr + t._offset * ITEMSIZE[t.dtype];

export abstract class Optimizer<O extends Hyper> {
  readonly defaults: O;
  paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on its first step. */
  readonly state = new Map<Tensor, ParamState>();
  protected abstract readonly kind: number;
  protected abstract readonly name: string;

  constructor(params: ParamsArg<O>, defaults: O) {
    this.defaults = defaults;
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new KilnError('ERR_ARG', 'optimizer got an empty parameter list');
    type Group = Partial<O> & { params: Iterable<Tensor> };
    const groups = list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as Group] : (list as Group[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Adds a group; unspecified hyperparameters come from the defaults. */
  addParamGroup(group: Partial<O> & { params: Iterable<Tensor> }): void {
    const params = [...group.params];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new KilnError('ERR_ARG', `${this.name}: params must be Tensors`);
      if (!p.isLeaf) throw new KilnError('ERR_ARG', `${this.name}: can only optimize leaf tensors`);
      if (p.dtype !== 'float32' && p.dtype !== 'float64')
        throw new KilnError('ERR_DTYPE', `${this.name}: parameters must be float32 or float64, got ${p.dtype}`);
      if (seen.has(p)) throw new KilnError('ERR_ARG', `${this.name}: a parameter appears in more than one group`);
      seen.add(p);
    }
    const g = { ...this.defaults, ...group, params } as ParamGroup<O>;
    this.validate(g);
    this.paramGroups.push(g);
  }

  /** Checks a group's hyperparameters (ERR_ARG with the name and value). */
  protected abstract validate(g: ParamGroup<O>): void;
  /** The native hyperparameter vector of a group (optim.cpp's layout). */
  protected abstract hyper(g: ParamGroup<O>): number[];
  /** The state buffers of a parameter, in native order (null where the options need none). */
  protected abstract buffers(g: ParamGroup<O>): (string | null)[];
  /** A new buffer's value (0 unless the optimizer starts elsewhere). */
  protected initialValue(_g: ParamGroup<O>, _buffer: string): number {
    return 0;
  }

  /** Clears the gradients of every parameter (setToNone, the default, drops them). */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups)
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone) {
          p.grad.dispose();
          p.grad = null;
        } else noGrad(() => p.grad!.zero_());
      }
  }

  /** One update of every parameter that has a gradient; `closure` (re-evaluating the loss) is called first. */
  step(closure?: () => Tensor): Tensor | undefined {
    const loss = closure ? closure() : undefined;
    const nb = native();
    for (const g of this.paramGroups) {
      const names = this.buffers(g);
      // One native call per (device, dtype): the CUDA step gets device pointers.
      const byDtype = new Map<string, number[]>();
      const temps: Tensor[] = [];
      for (const p of g.params) {
        if (!p.grad) continue;
        let grad = p.grad;
        if (grad.shape.join() !== p.shape.join())
          throw new KilnError(
            'ERR_SHAPE',
            `${this.name}: gradient ${shapeStr(grad.shape)} for a parameter ${shapeStr(p.shape)}`,
          );
        if (grad.dtype !== p.dtype || !grad.isContiguous()) {
          grad = noGrad(() => {
            const cast = grad.to(p.dtype),
              c = cast.contiguous();
            if (cast !== grad && cast !== c) cast.dispose();
            return c;
          });
          temps.push(grad);
        }
        if (!p.isContiguous()) throw new KilnError('ERR_ARG', `${this.name}: parameters must be contiguous`);
        let st = this.state.get(p);
        if (!st) {
          st = { step: 0 };
          this.state.set(p, st);
        }
        for (const b of names)
          if (b && !(st[b] instanceof Tensor))
            st[b] = keep(zeros(p.shape.slice(), { dtype: p.dtype, device: p.device }).fill_(this.initialValue(g, b)));
        st.step += 1;
        const bufs = names.map((b) => (b ? addr(st![b] as Tensor) : 0));
        if (grad.device !== p.device)
          throw new KilnError(
            'ERR_DEVICE',
            `${this.name}: a parameter on ${p.device} has its gradient on ${grad.device}`,
          );
        const key = `${p._storage.dev} ${p.dtype}`;
        const list = byDtype.get(key) ?? [];
        list.push(addr(p), addr(grad), bufs[0] ?? 0, bufs[1] ?? 0, bufs[2] ?? 0, p.numel(), st.step);
        byDtype.set(key, list);
        bumpVersion(p);
      }
      const hyper = Float64Array.from(this.hyper(g));
      for (const [key, list] of byDtype) {
        const [dev, dtype] = key.split(' ');
        const status = nb.optimStep(
          this.kind,
          DTYPE_IDS[dtype as 'float32'],
          Float64Array.from(list),
          hyper,
          Number(dev),
        );
        if (status !== 0) throw new KilnError(STATUS_CODES[status] ?? 'ERR_NATIVE', nb.lastError());
      }
      for (const t of temps) t.dispose();
    }
    return loss;
  }

  /** Frees the state buffers now (they are otherwise freed when the GC collects them). */
  dispose(): void {
    for (const st of this.state.values()) for (const v of Object.values(st)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** PyTorch's layout: state by parameter index (across groups), groups with their param indices. */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...rest } = g;
      return { ...rest, params: params.map((p) => index.get(p) ?? index.set(p, index.size).get(p)!) };
    });
    const state: OptimizerStateDict['state'] = {};
    for (const [p, st] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = { ...st };
    }
    return { state, paramGroups };
  }

  /** Restores state and hyperparameters saved by stateDict() of an optimizer over the same parameters. */
  loadStateDict(sd: OptimizerStateDict): void {
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new KilnError(
        'ERR_STATE_DICT',
        `${this.name}.loadStateDict: ${sd.paramGroups.length} groups saved, ${this.paramGroups.length} here`,
      );
    const byIndex: Tensor[] = [];
    sd.paramGroups.forEach((sg, gi) => {
      const ids = sg.params as number[];
      const mine = this.paramGroups[gi].params;
      if (ids.length !== mine.length)
        throw new KilnError(
          'ERR_STATE_DICT',
          `${this.name}.loadStateDict: group ${gi} has ${ids.length} parameters saved, ${mine.length} here`,
        );
      ids.forEach((id, k) => (byIndex[id] = mine[k]));
    });
    noGrad(() => {
      for (const [id, saved] of Object.entries(sd.state)) {
        const p = byIndex[Number(id)];
        if (!p) throw new KilnError('ERR_STATE_DICT', `${this.name}.loadStateDict: state for unknown parameter ${id}`);
        const st: ParamState = { step: Number(saved.step ?? 0) };
        for (const [k, v] of Object.entries(saved)) {
          if (!(v instanceof Tensor)) continue;
          if (v.shape.join() !== p.shape.join())
            throw new KilnError(
              'ERR_STATE_DICT',
              `${this.name}.loadStateDict: '${k}' of parameter ${id} is ${shapeStr(v.shape)}, the parameter ${shapeStr(p.shape)}`,
            );
          st[k] = keep(v.to(p.dtype).contiguous().clone());
        }
        const old = this.state.get(p);
        if (old) for (const v of Object.values(old)) if (v instanceof Tensor) v.dispose();
        this.state.set(p, st);
      }
    });
    sd.paramGroups.forEach((sg, gi) => {
      const { params: _ids, ...rest } = sg;
      Object.assign(this.paramGroups[gi], rest);
      this.validate(this.paramGroups[gi]);
    });
  }
}
