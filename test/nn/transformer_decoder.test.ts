// nn.TransformerDecoderLayer, nn.TransformerDecoder and nn.Transformer against PyTorch 1.13:
// weights and inputs come from integer formulas shared with PY_REF below (which printed the
// numbers embedded in REF), so the comparison runs without torch; where torch is installed, a
// fresh run of PY_REF is checked against REF. Also: gradients to every parameter, state-dict keys,
// the causal mask helper, deep-copied layers and bad shapes.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import { Transformer, TransformerDecoder, TransformerDecoderLayer } from '../../ts/nn/layers/transformer_decoder';

const { nn } = kiln;
const [E, H, FF, T, S, B] = [8, 2, 16, 3, 5, 2];
const TOL = 1e-5;

/** The k-th state-dict entry's i-th element (PY_REF's param). */
const param = (k: number, i: number) => 0.6 * (((i * i * 13 + i * 7919 + k * 104729 + 17) % 2003) / 2003 - 0.5);
/** n input values in [-1, 1) (PY_REF's inp). */
const inp = (seed: number, n: number) =>
  Array.from({ length: n }, (_, i) => (((i * i * 37 + i * 4099 + seed * 31337 + 5) % 1009) / 1009) * 2 - 1);
const make = (seed: number, shape: number[], scale = 1) =>
  kiln
    .tensor(
      inp(
        seed,
        shape.reduce((a, b) => a * b, 1),
      ).map((v) => v * scale),
    )
    .reshape(shape);

/** Loads the formula weights through loadStateDict (strict) and switches to eval mode. */
function fill<M extends kiln.nn.Module>(m: M): M {
  const sd = new Map<string, kiln.Tensor>();
  [...m.stateDict()].forEach(([name, t], k) => {
    const one = name.includes('norm') && name.endsWith('weight') ? 1 : 0;
    const vals = Array.from({ length: t.numel() }, (_, i) => param(k, i) + one);
    sd.set(name, kiln.tensor(vals).reshape(t.shape.slice()));
  });
  m.loadStateDict(sd);
  return m.eval();
}

/** Largest |got - want| over the elements (got in row-major order). */
function worst(got: kiln.Tensor, want: number[]): number {
  const g = got.contiguous()._numbers();
  assert.is(g.length, want.length);
  let w = 0;
  for (let i = 0; i < g.length; i++) w = Math.max(w, Math.abs(g[i] - want[i]));
  return w;
}
const close = (got: kiln.Tensor, want: number[], what: string) => {
  const w = worst(got, want);
  assert.ok(w < TOL, `${what}: differs from PyTorch by ${w}`);
};
const throwsCode = (fn: () => unknown, code: string, what: string) =>
  assert.throws(fn, (e: kiln.KilnError) => e instanceof kiln.KilnError && e.code === code, what);

// Inputs, seq-first: tgt [T, B, E], memory (and Transformer's src) [S, B, E].
const tgt = make(1, [T, B, E]);
const memory = make(2, [S, B, E]);
const wgt = make(9, [T, B, E]);
const tgtMask = Transformer.generateSquareSubsequentMask(T);
const memoryMask = kiln.tensor([
  [false, true, false, false, false],
  [false, false, false, false, true],
  [true, false, false, false, false],
]);
const tgtPad = kiln.tensor([
  [false, false, true],
  [false, false, false],
]);
const memPad = kiln.tensor([
  [false, false, false, true, true],
  [false, false, false, false, false],
]);
const srcMask = make(7, [S, S], 0.5);
const masks = { tgtMask, memoryMask, tgtKeyPaddingMask: tgtPad, memoryKeyPaddingMask: memPad };

function decoder(normFirst: boolean, batchFirst: boolean, activation: 'relu' | 'gelu' = 'relu') {
  const layer = new TransformerDecoderLayer(E, H, {
    dimFeedforward: FF,
    dropout: 0.1,
    activation,
    normFirst,
    batchFirst,
  });
  return fill(new TransformerDecoder(layer, 2, { norm: new nn.LayerNorm(E) }));
}
function transformer(normFirst: boolean, batchFirst: boolean, activation: 'relu' | 'gelu') {
  const o = { dModel: E, nhead: H, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: FF, dropout: 0.1 };
  return fill(new Transformer({ ...o, activation, normFirst, batchFirst }));
}
/** Seq-first to the layout of batchFirst, and back (a transpose both ways). */
const lay = (t: kiln.Tensor, bf: boolean) => (bf ? t.transpose(0, 1) : t);

/** The PyTorch reference: REF is its output (less 'torch', the version). */
const PY_REF = `
# Prints REF (run it with /usr/bin/python3 -c and paste the JSON; -Infinity as is).
# Weights and inputs come from integer formulas (param / inp below, mirrored in the test), so only
# outputs, gradients and key lists travel. The reference runs in float64 on the float32-rounded
# values; eval mode, so dropout is off.
import json
import torch

nn = torch.nn
E, H, FF, T, S, B = 8, 2, 16, 3, 5, 2


def param(k, i):
    return 0.6 * (((i * i * 13 + i * 7919 + k * 104729 + 17) % 2003) / 2003 - 0.5)


def inp(seed, n):
    return [((i * i * 37 + i * 4099 + seed * 31337 + 5) % 1009) / 1009 * 2 - 1 for i in range(n)]


def f32(vals, shape):
    return torch.tensor(vals, dtype=torch.float32).reshape(shape).double()


def fill(module):
    sd = module.state_dict()
    new = {}
    for k, (name, t) in enumerate(sd.items()):
        vals = [param(k, i) + (1.0 if 'norm' in name and name.endswith('weight') else 0.0) for i in range(t.numel())]
        new[name] = f32(vals, t.shape)
    module.double()
    module.load_state_dict(new)
    module.eval()
    return module


tgt = f32(inp(1, T * B * E), (T, B, E)).requires_grad_()
memory = f32(inp(2, S * B * E), (S, B, E)).requires_grad_()
src = memory.detach()
wgt = f32(inp(9, T * B * E), (T, B, E))
tgt_mask = nn.Transformer.generate_square_subsequent_mask(T).double()
memory_mask = torch.zeros(T, S, dtype=torch.bool)
memory_mask[0, 1] = memory_mask[1, 4] = memory_mask[2, 0] = True
tgt_pad = torch.tensor([[False, False, True], [False, False, False]])
mem_pad = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
src_mask = f32([0.5 * v for v in inp(7, S * S)], (S, S))
masks = dict(tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=mem_pad)

out = {}
flat = lambda t: [float('%.9g' % v) for v in t.detach().flatten().tolist()]


def decoder(norm_first, activation='relu'):
    layer = nn.TransformerDecoderLayer(E, H, dim_feedforward=FF, dropout=0.1, activation=activation, norm_first=norm_first)
    return fill(nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(E)))


dec = decoder(False)
y = dec(tgt, memory, **masks)
(y * wgt).sum().backward()
out['decPostMasked'] = flat(y)
out['decPostMaskedDTgt'] = flat(tgt.grad)
out['decPostMaskedDMemory'] = flat(memory.grad)
out['decPreMasked'] = flat(decoder(True)(tgt, memory, **masks))
out['decPostPlain'] = flat(decoder(False)(tgt, memory))
out['decPreGeluPlain'] = flat(decoder(True, 'gelu')(tgt, memory))
out['decoderKeys'] = list(dec.state_dict().keys())

for name, norm_first, act in [('tfPost', False, 'relu'), ('tfPre', True, 'gelu')]:
    tf = fill(nn.Transformer(E, H, 2, 2, FF, dropout=0.1, activation=act, norm_first=norm_first))
    y = tf(src, tgt.detach(), src_mask=src_mask, tgt_mask=tgt_mask, src_key_padding_mask=mem_pad,
           tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=mem_pad)
    out[name] = flat(y)
    out['transformerKeys'] = list(tf.state_dict().keys())
out['mask4'] = nn.Transformer.generate_square_subsequent_mask(4).tolist()
out['torch'] = torch.__version__
print(json.dumps(out))
`;

/** PyTorch 1.13 (float64 on the float32-rounded values), printed by PY_REF. */
const REF = {
  decPostMasked: [
    -1.08850511, -0.0837952641, -0.589207888, -0.355956112, 0.980302903, 0.199521233, 1.67210661, -0.584455395,
    0.610763189, 1.89120655, -0.250469209, 0.0351297938, -0.332795191, -0.985354498, 0.194069771, -0.922044047,
    -0.812446583, 1.23979429, -1.24868651, -0.515795812, 1.01384948, 0.608700258, -0.469296629, 0.37807465,
    0.0405145328, 0.915771396, -0.99516768, -0.474248845, -0.0248162732, 0.383168087, 1.52889388, -1.16850322,
    0.029356936, -0.356160194, 0.144208207, -0.980851803, 0.931082359, 1.2846742, 0.467536695, -1.37034585,
    -0.518946227, 0.6541329, -0.364958726, 0.390724528, 0.952254328, -0.739926003, 1.17937286, -1.40936987,
  ],
  decPostMaskedDTgt: [
    -0.309596414, -0.0192512991, 0.271744924, -1.44391097, 0.429399136, 0.815957544, 0.463935143, 0.381882079,
    -0.0789885246, -0.586280917, 0.626775743, 0.289788651, 0.1537971, -1.14267652, -0.0939152793, 0.134480769,
    0.65111998, 0.00230006073, -0.587462157, 1.08582941, 0.171141096, -1.01754568, 0.16043615, -0.351892752,
    -0.634857581, -0.205906722, 0.560393654, 0.699529813, -0.356009648, -0.722860121, 0.58302745, -0.0000222091196,
    -0.535207654, -0.0230909417, -1.24058834, -0.426259244, 0.149704796, 0.0593066432, 1.9421172, 0.0728583396,
    0.468142616, 0.444673331, 0.589606985, -1.6117908, -0.471779775, -0.1348963, 1.52132178, -0.695477641,
  ],
  decPostMaskedDMemory: [
    -0.046969649, -0.0465981935, -0.0224572746, 0.0528997376, 0.0178471342, 0.0212990663, 0.0260194111, -0.0576505179,
    0.086145979, 0.0503553375, 0.0585235188, 0.00780865378, 0.00421189296, -0.025348751, -0.0387051851, 0.0361516205,
    0.176762066, 0.106114009, -0.0349072724, 0.0197570584, 0.298805447, -0.201205284, -0.105942303, 0.0685056254,
    0.0570478583, 0.0492465537, 0.0850948504, -0.00654215253, -0.0136584672, 0.0232565353, -0.0156644874,
    -0.00244073253, 0.0936089147, 0.0195047897, -0.0797749229, 0.112973173, 0.23860118, -0.103545499, -0.019974588,
    0.0215709039, 0.0740735389, 0.0105595328, 0.120528266, -0.00215696741, -0.0396429169, -0.0100784797, -0.0311919971,
    -0.0102466202, 0, 0, 0, 0, 0, 0, 0, 0, 0.0957164591, 0.047260678, 0.12246996, -0.0131841498, -0.0428955957,
    -0.0157490072, -0.0540579379, -0.00627642902, 0, 0, 0, 0, 0, 0, 0, 0, 0.0168104419, -0.0163316218, 0.0865960102,
    0.0101904098, -0.0374489154, 0.019677076, -0.00285775808, -0.0243908754,
  ],
  decPreMasked: [
    -0.527754415, 0.491762738, -0.771903664, -1.00939539, 0.735950342, 0.617412683, 1.44321732, -0.796901489,
    0.80039408, 1.65059979, -0.550146898, -0.0752776199, 0.0368519551, -1.27134763, 0.389805439, -0.727596094,
    -0.803856429, 0.902112801, -1.248466, -0.767275478, 0.952132684, 0.823246002, -0.346108391, 0.693976127, 0.38123309,
    1.19356258, -1.18692267, -0.487977162, 0.0564908315, 0.23169816, 1.16918082, -1.13556223, 0.366483569, 0.132774844,
    -0.0399623812, -0.979826418, 0.259288415, 1.59331133, 0.259821659, -1.41640755, -0.145402046, 1.00878937,
    -0.726917695, 0.0123136475, 0.771767376, -0.365256639, 1.13120237, -1.51990143,
  ],
  decPostPlain: [
    -1.09501709, 0.0760106837, -0.42200686, -0.0453112397, 0.934748108, -0.161826378, 1.68716268, -0.832809057,
    0.635165287, 2.09667951, -0.355005376, -0.475970215, -0.38859107, -0.484325242, -0.0940829223, -0.678201533,
    -0.794438399, 1.33207886, -1.18277473, -0.524344614, 1.16472117, 0.378559163, -0.38368708, 0.199611507, 0.025222775,
    0.931429584, -0.952138145, -0.551503909, -0.110597326, 0.426195902, 1.54946231, -1.10848464, 0.121420755,
    -0.242354574, 0.145040773, -1.09534275, 1.10877028, 1.02015289, 0.485441631, -1.38795168, -0.501280649, 0.583769312,
    -0.313993124, 0.442691716, 0.938779538, -0.733144397, 1.17938475, -1.45572894,
  ],
  decPreGeluPlain: [
    -1.08493, 0.504831687, -0.286288181, -0.40489967, 0.600398459, -0.0231820195, 1.74315931, -0.894359687, 0.844989234,
    1.94600698, -0.539096845, -0.55288005, -0.216341544, -0.677168606, 0.10165953, -0.640947333, -1.01703396,
    1.21763817, -1.00034729, -0.799029742, 1.1493207, 0.202868862, -0.0922839326, 0.537933352, 0.21069532, 1.27156018,
    -0.911291959, -0.674859953, -0.0478755199, 0.229868914, 1.27886366, -1.13689784, 0.27537643, 0.193408437,
    0.14230165, -1.17272657, 0.662837776, 1.05200114, 0.574884785, -1.5577779, -0.348736224, 0.91510914, -0.423600074,
    0.100524402, 0.758935398, -0.471462786, 1.20247193, -1.57949796,
  ],
  decoderKeys: [
    'layers.0.self_attn.in_proj_weight',
    'layers.0.self_attn.in_proj_bias',
    'layers.0.self_attn.out_proj.weight',
    'layers.0.self_attn.out_proj.bias',
    'layers.0.multihead_attn.in_proj_weight',
    'layers.0.multihead_attn.in_proj_bias',
    'layers.0.multihead_attn.out_proj.weight',
    'layers.0.multihead_attn.out_proj.bias',
    'layers.0.linear1.weight',
    'layers.0.linear1.bias',
    'layers.0.linear2.weight',
    'layers.0.linear2.bias',
    'layers.0.norm1.weight',
    'layers.0.norm1.bias',
    'layers.0.norm2.weight',
    'layers.0.norm2.bias',
    'layers.0.norm3.weight',
    'layers.0.norm3.bias',
    'layers.1.self_attn.in_proj_weight',
    'layers.1.self_attn.in_proj_bias',
    'layers.1.self_attn.out_proj.weight',
    'layers.1.self_attn.out_proj.bias',
    'layers.1.multihead_attn.in_proj_weight',
    'layers.1.multihead_attn.in_proj_bias',
    'layers.1.multihead_attn.out_proj.weight',
    'layers.1.multihead_attn.out_proj.bias',
    'layers.1.linear1.weight',
    'layers.1.linear1.bias',
    'layers.1.linear2.weight',
    'layers.1.linear2.bias',
    'layers.1.norm1.weight',
    'layers.1.norm1.bias',
    'layers.1.norm2.weight',
    'layers.1.norm2.bias',
    'layers.1.norm3.weight',
    'layers.1.norm3.bias',
    'norm.weight',
    'norm.bias',
  ],
  tfPost: [
    -0.504473533, -1.85582994, -0.257996942, -0.219095711, 1.82982618, 0.365433877, 1.79252919, -0.0598632734,
    1.24352261, 1.08343126, 1.02269984, -0.609589256, -0.817227866, -1.70862692, 0.95894093, 0.0423216425, -0.162184614,
    1.04628626, -1.48563064, -0.442493427, 2.19425632, 0.477725326, -0.894266793, 0.391746874, 0.549820378,
    -0.0939060585, -0.184957536, -1.15291862, -0.423347501, 0.148192895, 2.81132875, -0.47659598, 0.598629237,
    -1.3387015, 1.17060568, -1.61149082, 1.48353628, 0.998869618, 0.371693026, -0.556462007, 0.0120707665, -1.23772736,
    0.31282327, -0.0522479334, 1.48499271, -1.12977712, 2.26044729, -0.538643705,
  ],
  transformerKeys: [
    'encoder.layers.0.self_attn.in_proj_weight',
    'encoder.layers.0.self_attn.in_proj_bias',
    'encoder.layers.0.self_attn.out_proj.weight',
    'encoder.layers.0.self_attn.out_proj.bias',
    'encoder.layers.0.linear1.weight',
    'encoder.layers.0.linear1.bias',
    'encoder.layers.0.linear2.weight',
    'encoder.layers.0.linear2.bias',
    'encoder.layers.0.norm1.weight',
    'encoder.layers.0.norm1.bias',
    'encoder.layers.0.norm2.weight',
    'encoder.layers.0.norm2.bias',
    'encoder.layers.1.self_attn.in_proj_weight',
    'encoder.layers.1.self_attn.in_proj_bias',
    'encoder.layers.1.self_attn.out_proj.weight',
    'encoder.layers.1.self_attn.out_proj.bias',
    'encoder.layers.1.linear1.weight',
    'encoder.layers.1.linear1.bias',
    'encoder.layers.1.linear2.weight',
    'encoder.layers.1.linear2.bias',
    'encoder.layers.1.norm1.weight',
    'encoder.layers.1.norm1.bias',
    'encoder.layers.1.norm2.weight',
    'encoder.layers.1.norm2.bias',
    'encoder.norm.weight',
    'encoder.norm.bias',
    'decoder.layers.0.self_attn.in_proj_weight',
    'decoder.layers.0.self_attn.in_proj_bias',
    'decoder.layers.0.self_attn.out_proj.weight',
    'decoder.layers.0.self_attn.out_proj.bias',
    'decoder.layers.0.multihead_attn.in_proj_weight',
    'decoder.layers.0.multihead_attn.in_proj_bias',
    'decoder.layers.0.multihead_attn.out_proj.weight',
    'decoder.layers.0.multihead_attn.out_proj.bias',
    'decoder.layers.0.linear1.weight',
    'decoder.layers.0.linear1.bias',
    'decoder.layers.0.linear2.weight',
    'decoder.layers.0.linear2.bias',
    'decoder.layers.0.norm1.weight',
    'decoder.layers.0.norm1.bias',
    'decoder.layers.0.norm2.weight',
    'decoder.layers.0.norm2.bias',
    'decoder.layers.0.norm3.weight',
    'decoder.layers.0.norm3.bias',
    'decoder.layers.1.self_attn.in_proj_weight',
    'decoder.layers.1.self_attn.in_proj_bias',
    'decoder.layers.1.self_attn.out_proj.weight',
    'decoder.layers.1.self_attn.out_proj.bias',
    'decoder.layers.1.multihead_attn.in_proj_weight',
    'decoder.layers.1.multihead_attn.in_proj_bias',
    'decoder.layers.1.multihead_attn.out_proj.weight',
    'decoder.layers.1.multihead_attn.out_proj.bias',
    'decoder.layers.1.linear1.weight',
    'decoder.layers.1.linear1.bias',
    'decoder.layers.1.linear2.weight',
    'decoder.layers.1.linear2.bias',
    'decoder.layers.1.norm1.weight',
    'decoder.layers.1.norm1.bias',
    'decoder.layers.1.norm2.weight',
    'decoder.layers.1.norm2.bias',
    'decoder.layers.1.norm3.weight',
    'decoder.layers.1.norm3.bias',
    'decoder.norm.weight',
    'decoder.norm.bias',
  ],
  tfPre: [
    -0.441104468, -1.26022605, -0.59952344, -0.408245136, 1.73698443, 1.1363968, 1.95804258, -1.0492209, 1.40183758,
    0.121253284, 0.829773005, -0.435814134, -0.747955741, -1.67064197, 0.982459127, 0.746720673, -0.0211441241,
    0.59773206, -1.77583471, -0.572647107, 2.02375947, 0.893361253, -0.507534347, 0.495758174, 1.3751534, -0.560584664,
    0.0605270594, -1.10740194, -0.400776895, -0.0620025163, 2.30828261, -0.41767539, 1.26247904, -0.905673715,
    0.453736409, -1.32444539, 1.18230606, 1.37739697, 0.58824594, -1.51586753, 0.683054016, -1.44238166, 0.683755682,
    -0.39081471, 1.00453442, -0.489722446, 2.20582734, -1.13572736,
  ],
  mask4: [
    [0, -Infinity, -Infinity, -Infinity],
    [0, 0, -Infinity, -Infinity],
    [0, 0, 0, -Infinity],
    [0, 0, 0, 0],
  ],
};

test('TransformerDecoder matches PyTorch: post- and pre-norm, relu and gelu, masks, both layouts', () => {
  const cases: [string, boolean, 'relu' | 'gelu', boolean, number[]][] = [
    ['post-norm, masked', false, 'relu', true, REF.decPostMasked],
    ['pre-norm, masked', true, 'relu', true, REF.decPreMasked],
    ['post-norm, no masks', false, 'relu', false, REF.decPostPlain],
    ['pre-norm gelu, no masks', true, 'gelu', false, REF.decPreGeluPlain],
  ];
  for (const [name, normFirst, act, masked, want] of cases)
    for (const bf of [false, true]) {
      const dec = decoder(normFirst, bf, act);
      const y = dec.forward(lay(tgt, bf), lay(memory, bf), masked ? masks : {});
      assert.equal(y.shape, bf ? [B, T, E] : [T, B, E]);
      close(lay(y, bf), want, `${name}, batchFirst ${bf}`);
    }
});

test('tgtIsCausal without tgtMask, a bool tgtMask and 3-D masks give the same as the float causal mask', () => {
  const dec = decoder(false, false);
  const rest = { memoryMask, tgtKeyPaddingMask: tgtPad, memoryKeyPaddingMask: memPad };
  close(dec.forward(tgt, memory, { ...rest, tgtIsCausal: true }), REF.decPostMasked, 'tgtIsCausal');
  const boolCausal = tgtMask.isinf();
  close(dec.forward(tgt, memory, { ...rest, tgtMask: boolCausal }), REF.decPostMasked, 'bool tgtMask');
  const per = (m: kiln.Tensor) =>
    m
      .unsqueeze(0)
      .expand([B * H, ...m.shape])
      .contiguous();
  const m3 = { ...masks, tgtMask: per(tgtMask), memoryMask: per(memoryMask) };
  close(dec.forward(tgt, memory, m3), REF.decPostMasked, '[B * nhead, ., .] masks');
});

test('unbatched (2-D) tgt and memory equal one batch element of the batched result', () => {
  const dec = decoder(false, true);
  const pick = (t: kiln.Tensor) => t.select(1, 1).contiguous();
  const y = dec.forward(pick(tgt), pick(memory), {
    tgtMask,
    memoryMask,
    tgtKeyPaddingMask: tgtPad.select(0, 1),
    memoryKeyPaddingMask: memPad.select(0, 1),
  });
  assert.equal(y.shape, [T, E]);
  const want = kiln.tensor(REF.decPostMasked).reshape([T, B, E]).select(1, 1).contiguous()._numbers();
  close(y, want, 'unbatched');
});

test('nn.Transformer matches PyTorch: encoder + decoder with final norms, both norm orders and layouts', () => {
  for (const [name, normFirst, act, want] of [
    ['post-norm relu', false, 'relu', REF.tfPost],
    ['pre-norm gelu', true, 'gelu', REF.tfPre],
  ] as const)
    for (const bf of [false, true]) {
      const tf = transformer(normFirst, bf, act);
      const y = tf.forward(lay(memory, bf), lay(tgt, bf), {
        srcMask,
        tgtMask,
        srcKeyPaddingMask: memPad,
        tgtKeyPaddingMask: tgtPad,
        memoryKeyPaddingMask: memPad,
      });
      close(lay(y, bf), want as unknown as number[], `${name}, batchFirst ${bf}`);
    }
});

test('gradients: tgt and memory match PyTorch; every parameter gets a finite gradient', () => {
  const dec = decoder(false, false);
  const t = tgt.clone().requiresGrad_(),
    m = memory.clone().requiresGrad_();
  dec.forward(t, m, masks).mul(wgt).sum().backward();
  close(t.grad!, REF.decPostMaskedDTgt, 'd tgt');
  close(m.grad!, REF.decPostMaskedDMemory, 'd memory');
  const mods: [string, kiln.nn.Module, () => kiln.Tensor][] = [];
  for (const normFirst of [false, true]) {
    const d = decoder(normFirst, true).train();
    mods.push([
      `decoder normFirst ${normFirst}`,
      d,
      () => lay(d.forward(lay(tgt, true), lay(memory, true), masks), true),
    ]);
    const tf = transformer(normFirst, false, 'gelu').train();
    mods.push([`transformer normFirst ${normFirst}`, tf, () => tf.forward(memory, tgt, { ...masks, srcMask })]);
  }
  for (const [name, mod, run] of mods) {
    run().mul(wgt).pow(2).sum().backward();
    for (const [k, p] of mod.namedParameters()) {
      assert.ok(p.grad, `${name}: ${k} has no gradient`);
      const g = p.grad!;
      assert.ok(g._numbers().every(Number.isFinite), `${name}: ${k} has a non-finite gradient`);
      assert.ok((g.abs().amax().item() as number) > 0, `${name}: ${k} has an all-zero gradient`);
    }
  }
});

test("state-dict keys equal PyTorch's, in PyTorch's order; layers are independent deep copies", () => {
  assert.equal([...decoder(false, false).stateDict().keys()], REF.decoderKeys);
  assert.equal([...transformer(true, true, 'relu').stateDict().keys()], REF.transformerKeys);
  const layer = new TransformerDecoderLayer(E, H, { dimFeedforward: FF });
  const dec = new TransformerDecoder(layer, 3);
  const l0 = dec.layers.at(0) as TransformerDecoderLayer,
    l1 = dec.layers.at(1) as TransformerDecoderLayer;
  assert.ok(l0 !== l1 && l0.multiheadAttn.inProjWeight !== l1.multiheadAttn.inProjWeight);
  assert.ok(l0.linear1.weight !== layer.linear1.weight);
  assert.equal(l0.linear1.weight.toArray(), l1.linear1.weight.toArray());
  assert.is(dec.parameters().length, 3 * layer.parameters().length);
  assert.is(dec.norm, null);
  assert.is(new TransformerDecoder(layer, 0).forward(tgt, memory), tgt, 'no layers, no norm: the input');
});

test("generateSquareSubsequentMask equals PyTorch's", () => {
  assert.equal(Transformer.generateSquareSubsequentMask(4).toArray(), REF.mask4);
  const m = Transformer.generateSquareSubsequentMask(2, { dtype: 'float64' });
  assert.is(m.dtype, 'float64');
  assert.equal(m.toArray(), [
    [0, -Infinity],
    [0, 0],
  ]);
  assert.equal(Transformer.generateSquareSubsequentMask(0).shape, [0, 0]);
  throwsCode(() => Transformer.generateSquareSubsequentMask(-1), 'ERR_ARG', 'negative size');
  throwsCode(() => Transformer.generateSquareSubsequentMask(2.5), 'ERR_ARG', 'fractional size');
  throwsCode(() => Transformer.generateSquareSubsequentMask(3, { dtype: 'int64' }), 'ERR_DTYPE', 'integer dtype');
});

test('train mode applies dropout; eval is deterministic', () => {
  const dec = decoder(true, false);
  const a = dec.forward(tgt, memory, masks),
    b = dec.forward(tgt, memory, masks);
  assert.equal(a.toArray(), b.toArray());
  dec.train();
  assert.not.equal(dec.forward(tgt, memory, masks).toArray(), a.toArray());
});

test('bad shapes throw ERR_SHAPE', () => {
  const dec = decoder(false, false);
  const layer = dec.layers.at(0) as TransformerDecoderLayer;
  const bad: [string, () => unknown][] = [
    ['tgt features', () => dec.forward(kiln.randn([T, B, E + 1]), memory)],
    ['memory features', () => layer.forward(tgt, kiln.randn([S, B, 4]))],
    ['batch sizes', () => dec.forward(tgt, kiln.randn([S, B + 1, E]))],
    ['4-D tgt', () => dec.forward(tgt.unsqueeze(0), memory.unsqueeze(0))],
    ['2-D tgt, 3-D memory', () => dec.forward(tgt.select(1, 0), memory)],
    ['tgtMask', () => dec.forward(tgt, memory, { tgtMask: Transformer.generateSquareSubsequentMask(T + 1) })],
    ['memoryMask', () => dec.forward(tgt, memory, { memoryMask: memoryMask.transpose(0, 1) })],
    ['3-D tgtMask', () => dec.forward(tgt, memory, { tgtMask: tgtMask.unsqueeze(0) })],
    ['tgtKeyPaddingMask', () => dec.forward(tgt, memory, { tgtKeyPaddingMask: memPad })],
    ['memoryKeyPaddingMask', () => dec.forward(tgt, memory, { memoryKeyPaddingMask: tgtPad })],
  ];
  const tf = transformer(false, true, 'relu');
  bad.push(
    ['Transformer batch sizes', () => tf.forward(kiln.randn([B, S, E]), kiln.randn([B + 1, T, E]))],
    ['Transformer features', () => tf.forward(kiln.randn([B, S, E]), kiln.randn([B, T, E + 2]))],
    ['Transformer src 2-D, tgt 3-D', () => tf.forward(kiln.randn([S, E]), kiln.randn([B, T, E]))],
  );
  for (const [what, fn] of bad) throwsCode(fn, 'ERR_SHAPE', what);
  assert.ok(dec.forward(tgt, memory)._numbers().every(Number.isFinite), 'the module still works afterwards');
});

test(`REF equals a fresh run of PY_REF with the installed PyTorch${torchSuffix}`, () => {
  if (skipWithoutTorch('transformer decoder reference regeneration')) return;
  const r = spawnSync(PY, ['-c', PY_REF], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const fresh = JSON.parse(r.stdout.replace(/-Infinity/g, '"-inf"')) as Record<string, unknown>;
  const neg = (v: unknown) => (v === '-inf' ? -Infinity : v);
  fresh.mask4 = (fresh.mask4 as unknown[][]).map((row) => row.map(neg));
  for (const [k, want] of Object.entries(REF)) {
    const got = fresh[k] as unknown[];
    assert.is(got.length, want.length, k);
    want.forEach((w: unknown, i: number) => {
      const g = got[i];
      if (typeof w === 'number') assert.ok(Math.abs((g as number) - w) < 1e-7, `${k}[${i}]: ${String(g)} vs ${w}`);
      else assert.equal(g, w, `${k}[${i}]`);
    });
  }
});

test.run();
