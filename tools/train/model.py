"""kvvision's default model: timm ViT encoder + det / tok / asso / act heads (docs/model.md,
"Default model heads"). Inference uses only operations the Swift engine runs exactly: Linear,
LayerNorm, exact GELU, ReLU, Conv2d 3x3/1x1 with bias, PixelShuffle, bilinear grid_sample
(align_corners=False, zero padding), 3x3 max-pool peaks + top-K, softmax attention with temporal
RoPE (rotate-half, base 10000), sigmoid.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

from data import ACTIONS, CLASSES

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class Config:
    """Architecture settings; `to_json()` is written as `kvvision.config` (snake_case keys)."""

    def __init__(self, **kw):
        self.image_size = [240, 320]  # [height, width]
        self.patch_size = 16
        self.dim = 192
        self.depth = 6
        self.heads = 3
        self.mlp_dim = 768
        self.stride = 8  # detection output stride
        self.up_channels = 64  # ViT branch after pixel shuffle
        self.stem_channels = [24, 48, 64]
        self.neck_channels = 96
        self.app_channels = 64
        self.app_hidden = 128
        self.app_dim = 64
        self.mot_inputs = 15
        self.mot_hidden = 64
        self.mot_dim = 64
        self.asso_dim = 64
        self.act_heads = 4
        self.act_kv_heads = 2
        self.act_head_dim = 32
        self.act_hidden = 128
        # Width of the act head's appearance-change input (0: none). When > 0 each act token is
        # [token ‖ act.change(a)], a = `appearance_change` of the detection's 3×3 grid samples of the
        # appearance map (app_fc1's input) against those of the owner's previous observation:
        # 10 cosine distances (per grid point, and overall), zeros for an owner's first token. The
        # identity embedding is trained to ignore rotation; this input is how the act head sees a
        # shape spin.
        self.act_change_dim = 0
        self.window = 64
        self.top_k = 40
        self.min_score = 0.05
        self.__dict__.update(kw)

    @property
    def token_dim(self):
        return self.app_dim + self.mot_dim

    @property
    def map_size(self):
        return self.image_size[0] // self.stride, self.image_size[1] // self.stride


def conv3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=True)


class Det(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.up = nn.Linear(c.dim, 4 * c.up_channels)
        s = c.stem_channels
        self.stem = nn.ModuleList([conv3(3, s[0], 2), conv3(s[0], s[1], 2), conv3(s[1], s[2], 2)])
        self.neck = nn.ModuleList([conv3(c.up_channels + s[2], c.neck_channels), conv3(c.neck_channels, c.neck_channels)])
        self.heatmap = nn.Conv2d(c.neck_channels, len(CLASSES), 1)
        self.offset = nn.Conv2d(c.neck_channels, 2, 1)
        self.size = nn.Conv2d(c.neck_channels, 2, 1)
        nn.init.constant_(self.heatmap.bias, -2.19)
        nn.init.constant_(self.size.bias, math.log(32.0))
        nn.init.constant_(self.offset.bias, 0.5)

    def forward(self, pixels, tokens):
        """pixels [B,3,H,W] normalised; tokens [B,P,D] (class token excluded). Returns the maps."""
        b = pixels.shape[0]
        gh, gw = self.c.image_size[0] // self.c.patch_size, self.c.image_size[1] // self.c.patch_size
        u = self.up(tokens).transpose(1, 2).reshape(b, 4 * self.c.up_channels, gh, gw)
        u = F.pixel_shuffle(u, 2)
        s = pixels
        for conv in self.stem:
            s = F.relu(conv(s))
        x = torch.cat([u, s], 1)
        for conv in self.neck:
            x = F.relu(conv(x))
        return x, self.heatmap(x), self.offset(x), self.size(x)


class Tok(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.app_map = nn.Conv2d(c.neck_channels, c.app_channels, 1)
        self.app_fc1 = nn.Linear(9 * c.app_channels, c.app_hidden)
        self.app_fc2 = nn.Linear(c.app_hidden, c.app_dim)
        self.mot_fc1 = nn.Linear(c.mot_inputs, c.mot_hidden)
        self.mot_fc2 = nn.Linear(c.mot_hidden, c.mot_dim)

    def appearance(self, amap, boxes, index):
        """amap [B,C,h,w]; boxes [N,4] x,y,w,h pixels; index [N] batch row -> e_app [N, app_dim]."""
        if boxes.shape[0] == 0:
            return amap.new_zeros((0, self.c.app_dim))
        return self.appearance_from(self.grid_features(amap, boxes, index))

    def appearance_from(self, feats):
        """e_app [N, app_dim] from grid samples [N, 9*C] (`grid_features`)."""
        return self.app_fc2(F.gelu(self.app_fc1(feats)))

    def grid_features(self, amap, boxes, index):
        """The 3x3 bilinear grid samples of each box on amap: [N, 9*C], point-major (app_fc1's input)."""
        if boxes.shape[0] == 0:
            return amap.new_zeros((0, 9 * amap.shape[1]))
        H, W = self.c.image_size
        k = (torch.arange(3, dtype=boxes.dtype, device=boxes.device) + 0.5) / 3
        px = boxes[:, 0:1] + k[None] * boxes[:, 2:3]  # [N,3]
        py = boxes[:, 1:2] + k[None] * boxes[:, 3:4]
        gx = (2 * px / W - 1)[:, None, :].expand(-1, 3, -1)  # [N,3(y),3(x)]
        gy = (2 * py / H - 1)[:, :, None].expand(-1, -1, 3)
        grid = torch.stack([gx, gy], -1).reshape(-1, 1, 9, 2)  # [N,1,9,2], point = ky*3+kx
        feats = F.grid_sample(amap[index], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return feats[:, :, 0, :].transpose(1, 2).reshape(boxes.shape[0], -1)  # [N, 9*C] point-major

    def motion(self, g):
        return self.mot_fc2(F.gelu(self.mot_fc1(g)))


def motion_inputs(box, score, cls, prev_box, dt, image_size):
    """The 15 motion/geometry inputs (float tensors; box [N,4] x,y,w,h px; prev_box [N,4]; dt [N]
    frames since the owner's previous observation, 0 = none)."""
    H, W = image_size
    cx, cy = box[:, 0] + box[:, 2] / 2, box[:, 1] + box[:, 3] / 2
    w, h = box[:, 2].clamp(min=1), box[:, 3].clamp(min=1)
    has = (dt > 0).to(box.dtype)
    d = dt.clamp(min=1).to(box.dtype)
    pcx, pcy = prev_box[:, 0] + prev_box[:, 2] / 2, prev_box[:, 1] + prev_box[:, 3] / 2
    pw, ph = prev_box[:, 2].clamp(min=1), prev_box[:, 3].clamp(min=1)
    onehot = F.one_hot(cls.long(), len(CLASSES)).to(box.dtype)
    g = torch.stack([
        cx / W - 0.5, cy / H - 0.5, torch.log(w / 64), torch.log(h / 64), score,
        has * (cx - pcx) / d / 8, has * (cy - pcy) / d / 8,
        has * (torch.log(w) - torch.log(pw)) / d * 10, has * (torch.log(h) - torch.log(ph)) / d * 10,
        has * torch.log(d) / 4, has], 1)
    return torch.cat([g, onehot], 1)


CHANGE_EPS = 1e-6


def appearance_change(feat, prev_feat, dt, channels):
    """The act head's change input [N, points + 1]: 10 · (1 − cos) between feat and prev_feat at
    each grid point (channels wide each, point-major) and over the whole vector, where dt > 0 (the
    owner has a previous observation), zeros where dt == 0. cos(a, b) = a·b / max(‖a‖‖b‖, 1e-6).
    feat, prev_feat [N, points*channels]; dt [N] frames."""
    def cos(a, b):
        return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp(min=CHANGE_EPS)
    n = feat.shape[0]
    f3, p3 = feat.reshape(n, -1, channels), prev_feat.reshape(n, -1, channels)
    d = torch.cat([1 - cos(f3, p3), (1 - cos(feat, prev_feat))[:, None]], 1) * 10
    return d * (dt > 0).to(feat.dtype)[:, None]


def rope(x, pos, base=10000.0):
    """Rotate-half RoPE over the last dim of x [..., N, d] by positions pos [N] (float64 angles)."""
    d = x.shape[-1]
    half = d // 2
    inv = base ** (-torch.arange(half, dtype=torch.float64, device=x.device) * 2 / d)
    ang = pos.to(torch.float64)[:, None] * inv[None]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


class Asso(nn.Module):
    """GTR-style association: single head, no RoPE; P(owner | det) normalised per owner + null."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.q = nn.Linear(c.token_dim, c.asso_dim)
        self.k = nn.Linear(c.token_dim, c.asso_dim)
        self.null_logit = nn.Parameter(torch.zeros(1))

    def owner_logits(self, q_tokens, k_tokens, visible, owners_onehot):
        """q_tokens [Nq,T]; k_tokens [Nk,T]; visible [Nq,Nk] bool (key resident in the query's window);
        owners_onehot [Nk,O] bool. Returns logits [Nq, O+1] (last = new track), -inf where absent."""
        s = self.q(q_tokens) @ self.k(k_tokens).T / math.sqrt(self.c.asso_dim)  # [Nq,Nk]
        mask = visible[:, :, None] & owners_onehot[None]  # [Nq,Nk,O]
        s3 = s[:, :, None].expand(-1, -1, mask.shape[2]).masked_fill(~mask, float("-inf"))
        log_a = torch.logsumexp(s3, 1)  # [Nq,O]
        n = mask.sum(1).to(s.dtype)
        logits = log_a - torch.log(n.clamp(min=1))
        logits = logits.masked_fill(n == 0, float("-inf"))
        return torch.cat([logits, self.null_logit.expand(logits.shape[0], 1)], 1)


class Act(nn.Module):
    """Owner-restricted temporal attention (GQA, RoPE in frames) over a track's own tokens -> 5 logits."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        T, d = c.token_dim + c.act_change_dim, c.act_head_dim
        if c.act_change_dim:
            self.change = nn.Linear(9 + 1, c.act_change_dim)  # `appearance_change` of the 3x3 grid
        self.q = nn.Linear(T, c.act_heads * d)
        self.k = nn.Linear(T, c.act_kv_heads * d)
        self.v = nn.Linear(T, c.act_kv_heads * d)
        self.o = nn.Linear(c.act_heads * d, T)
        self.fc1 = nn.Linear(2 * T, c.act_hidden)
        self.fc2 = nn.Linear(c.act_hidden, len(ACTIONS))

    def inputs(self, tokens, change):
        """The act tokens: [tokens ‖ change(change_input)] when act_change_dim > 0, else tokens.
        change [N, 10] from `appearance_change` (ignored when the model has no change input)."""
        return torch.cat([tokens, self.change(change)], 1) if self.c.act_change_dim else tokens

    def forward(self, tokens, frames, allowed):
        """tokens [N,T'] (`inputs`: T' = token_dim + act_change_dim); frames [N] frame index; allowed [N,N] bool (query i may see key j: same owner,
        within the window, j's frame <= i's). Returns logits [N,5]."""
        c = self.c
        n, d, hq, hk = tokens.shape[0], c.act_head_dim, c.act_heads, c.act_kv_heads
        q = rope(self.q(tokens).reshape(n, hq, d).transpose(0, 1), frames)  # [hq,N,d]
        k = rope(self.k(tokens).reshape(n, hk, d).transpose(0, 1), frames)
        v = self.v(tokens).reshape(n, hk, d).transpose(0, 1)
        rep = hq // hk
        k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
        s = q @ k.transpose(1, 2) / math.sqrt(d)
        s = s.masked_fill(~allowed[None], float("-inf"))
        a = torch.softmax(s, -1).nan_to_num(0.0)
        out = self.o((a @ v).transpose(0, 1).reshape(n, hq * d))
        return self.fc2(F.gelu(self.fc1(torch.cat([tokens, out], 1))))


class KVVisionModel(nn.Module):
    def __init__(self, c=None):
        super().__init__()
        self.c = c = c or Config()
        self.encoder = VisionTransformer(img_size=tuple(c.image_size), patch_size=c.patch_size, embed_dim=c.dim,
                                         depth=c.depth, num_heads=c.heads, mlp_ratio=c.mlp_dim / c.dim,
                                         num_classes=0, global_pool="token", class_token=True)
        self.det = Det(c)
        self.tok = Tok(c)
        self.asso = Asso(c)
        self.act = Act(c)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def normalise(self, frames_uint8):
        """[B,H,W,3] uint8 -> [B,3,H,W] float (v/255 - mean)/std."""
        x = frames_uint8.permute(0, 3, 1, 2).float() / 255.0
        return (x - self.mean) / self.std

    def spatial(self, pixels, bf16=False):
        """Encoder + det maps. Returns dict: tokens [B,1+P,D], heat (logits) [B,C,h,w], offset, size, app_map.
        bf16: computed under bf16 autocast (train.py --precision), every output read back as f32."""
        with torch.autocast(pixels.device.type, dtype=torch.bfloat16, enabled=bf16):
            tokens = self.encoder.forward_features(pixels)
            feat, heat, off, size = self.det(pixels, tokens[:, 1:])
            out = {"tokens": tokens, "heat": heat, "offset": off, "size": size, "app_map": self.tok.app_map(feat)}
        return {k: v.float() for k, v in out.items()} if bf16 else out


@torch.no_grad()
def decode(heat_logits, offset, size, c, top_k=None, min_score=None):
    """Peak decoding for one frame (no NMS): sigmoid, the maximum over classes at each cell (its
    argmax is the class), 3x3 max-pool peaks of that map, top-K over h*w, keep score >= min_score.
    One box per peak: a shape whose evidence is split between two class maps gives one box, not two. Returns boxes [n,4] x,y,w,h px, scores [n], classes [n]
    (sorted by score)."""
    top_k = top_k or c.top_k
    min_score = c.min_score if min_score is None else min_score
    hm = torch.sigmoid(heat_logits)  # [C,h,w]
    best, cls_map = hm.max(0)  # [h,w]; ties -> lowest class index
    peaks = best * (F.max_pool2d(best[None, None], 3, stride=1, padding=1)[0, 0] == best).to(hm.dtype)
    C, h, w = hm.shape
    scores, idx = torch.topk(peaks.reshape(-1), min(top_k, h * w))
    keep = scores >= min_score
    scores, idx = scores[keep], idx[keep]
    y, x = idx // w, idx % w
    cls = cls_map[y, x]
    cx = (x.to(hm.dtype) + offset[0, y, x]) * c.stride
    cy = (y.to(hm.dtype) + offset[1, y, x]) * c.stride
    bw, bh = torch.exp(size[0, y, x]), torch.exp(size[1, y, x])
    boxes = torch.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1)
    return boxes, scores, cls


def gmacs(c):
    """Multiply-accumulates per frame (GMAC) by part: encoder, det, and tok per detection (MMAC)."""
    gh, gw = c.image_size[0] // c.patch_size, c.image_size[1] // c.patch_size
    n = gh * gw + 1
    D, M = c.dim, c.mlp_dim
    enc = gh * gw * D * 3 * c.patch_size ** 2 + c.depth * (n * D * 3 * D + 2 * n * n * D + n * D * D + 2 * n * D * M)
    h, w = c.map_size
    s = c.stem_channels
    det = gh * gw * D * 4 * c.up_channels
    det += (h * 4 * w * 4 * s[0] * 27) + (h * 2 * w * 2 * s[1] * 9 * s[0]) + (h * w * s[2] * 9 * s[1])
    det += h * w * c.neck_channels * 9 * (c.up_channels + s[2]) + h * w * c.neck_channels * 9 * c.neck_channels
    det += h * w * (len(CLASSES) + 4) * c.neck_channels
    app_map = h * w * c.app_channels * c.neck_channels
    tok = 9 * c.app_channels * c.app_hidden + c.app_hidden * c.app_dim + c.mot_inputs * c.mot_hidden + c.mot_hidden * c.mot_dim
    return {"encoder": enc / 1e9, "det": det / 1e9, "tok_map": app_map / 1e9, "tok_per_detection_mmac": tok / 1e6}
